import { applyDecorators, Controller, Get, Param, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '@common/auth/auth.decorators';
import { BootScriptService, ScriptRequester, ScriptResponse } from './boot-script.service';
import { BootFilesService } from './boot-files/boot-files.service';

/**
 * iPXE scripts, outside `/api/v1` and without a login (iPXE cannot authenticate; the `?t=` token DLS handed out in
 * DHCP and the trust rule stand in): the DHCP server hands iPXE `http://<server>:<port>/boot/<mac>.ipxe`;
 * `/boot/script.ipxe?mac=${net0/mac}` serves a generic chain script; `/boot/<mac>/failed` is where a script reports a
 * failed step; `/boot/<mac>/iscsi.cpio` is a kernel boot's per-boot initrd fragment. Scripts are `text/plain`, first
 * line `#!ipxe`; the fragment is `application/octet-stream`.
 *
 * The two script routes are answered by `BootScriptFastPath` (`boot-script.http.ts`, node:http, in front of Express: a boot storm's
 * rate) with the same service and the same answers; their handlers here document them in Swagger and serve them
 * wherever that fast path is not installed.
 */
/** Documents answers in iPXE's own format: a text script (or message) whatever the status. */
const TextAnswers = (answers: Record<number, string>) =>
  applyDecorators(
    ...Object.entries(answers).map(([status, description]) =>
      ApiResponse({ status: Number(status), description, content: { 'text/plain': { schema: { type: 'string' } } } }),
    ),
  );

const SCRIPT_ANSWERS = {
  200: 'an iPXE script (#!ipxe): sanboot of its disk, a kernel boot, local boot, "wait", "disk in use", or the unknown-client script',
  400: 'no MAC, or not a MAC: the unknown-client script',
  403: "not a boot network, no valid token, or not that client's address: the unknown-client script",
  429: 'too many requests from this address: a script that waits (Retry-After)',
};

@ApiTags('boot')
@Controller('boot')
export class BootScriptController {
  constructor(
    private readonly scripts: BootScriptService,
    private readonly files: BootFilesService,
  ) {}

  @Get('files/*path')
  @Public()
  @ApiProduces('application/efi', 'application/octet-stream')
  @ApiOperation({
    summary:
      'a file of the boot files root (the TFTP root: iPXE loaders) over HTTP, for UEFI HTTP boot; only to requesters on a boot network DLS serves',
  })
  @ApiResponse({
    status: 200,
    description: 'the file (`application/efi` for .efi programs, as UEFI HTTP boot expects)',
    content: { 'application/efi': { schema: { type: 'string', format: 'binary' } } },
  })
  @TextAnswers({
    400: 'a name the jail refuses outright (empty, control characters)',
    403: 'not a boot network, or a path that leaves the root (`..`, a symlink out)',
    404: 'no such regular file',
    429: 'too many requests from this address (Retry-After)',
  })
  async bootFile(@Param('path') path: string | string[], @Req() req: Request, @Res() res: Response): Promise<void> {
    const who = requester(req);
    const started = performance.now();
    const a = await this.files.open(Array.isArray(path) ? path.join('/') : path, who);
    if (a.status !== 200) {
      headers(res, a.status, 'text/plain; charset=utf-8', a.retryAfter);
      res.send(`DLS: ${a.message}\n`);
      return;
    }
    headers(res, 200, a.contentType);
    res.setHeader('Content-Length', String(a.size));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.once('close', () => this.files.served(a, who, res.writableFinished, performance.now() - started));
    const body = this.files.body(a);
    if (Buffer.isBuffer(body)) res.end(body);
    else body.once('error', () => res.destroy()).pipe(res);
  }

  @Get('script.ipxe')
  @Public()
  @ApiProduces('text/plain')
  @ApiOperation({ summary: 'iPXE script for the MAC in ?mac= with the token DLS handed out in ?t=' })
  @TextAnswers(SCRIPT_ANSWERS)
  @ApiQuery({ name: 'mac', required: false, type: String, description: "the client's MAC (iPXE's ${net0/mac})" })
  @ApiQuery({ name: 't', required: false, type: String, description: 'the token DLS handed out with the script URL' })
  async byQuery(@Query('mac') mac: unknown, @Query('t') token: unknown, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    return send(res, await this.scripts.scriptFor(typeof mac === 'string' ? mac : undefined, requester(req), token));
  }

  @Get(':mac.ipxe')
  @Public()
  @ApiProduces('text/plain')
  @ApiOperation({ summary: 'iPXE script for a MAC (with the token DLS handed out in ?t=): sanboot of its disk, local boot, or a message' })
  @TextAnswers(SCRIPT_ANSWERS)
  @ApiQuery({ name: 't', required: false, type: String, description: 'the token DLS handed out with the script URL' })
  async byMac(@Param('mac') mac: string, @Query('t') token: unknown, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    return send(res, await this.scripts.scriptFor(mac, requester(req), token));
  }

  @Get(':mac/iscsi.cpio')
  @Public()
  @ApiProduces('application/octet-stream')
  @ApiOperation({
    summary: "a kernel boot's per-boot iSCSI initrd fragment (newc cpio with dracut's netroot and CHAP login), for the client it names (?t=)",
  })
  @ApiQuery({ name: 't', required: false, type: String, description: 'the token DLS handed out with the script URL' })
  @ApiResponse({
    status: 200,
    description: 'the cpio fragment',
    content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  })
  @TextAnswers({
    400: 'not a MAC',
    403: "not a boot network, no valid token, or not that client's address",
    404: 'the MAC does not boot from DLS now, or boots with sanboot (no initrd)',
    409: 'the disk is in use by a running machine, or no export for this boot: fetch its boot script first',
    429: 'too many requests from this address (Retry-After)',
    503: 'tgtd is unavailable',
  })
  async iscsiInitrd(@Param('mac') mac: string, @Query('t') token: unknown, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const r = await this.scripts.iscsiInitrdFor(mac, requester(req), token);
    headers(res, r.status, r.contentType, r.retryAfter);
    // A Buffer returned as it is would go out as JSON; StreamableFile sends the bytes.
    return typeof r.body === 'string' ? r.body : new StreamableFile(r.body, { length: r.body.length });
  }

  @Get(':mac/failed')
  @Public()
  @ApiProduces('text/plain')
  @ApiOperation({ summary: 'a boot script reports a failed step (?stage=sanboot&err=<iPXE errno>)' })
  @TextAnswers({
    200: 'a script that prints what was recorded (the session goes to error)',
    400: 'not a MAC, or a bad stage or err',
    403: "not a boot network, no valid token, or not that client's address: the unknown-client script",
    429: 'too many requests from this address (Retry-After)',
  })
  @ApiQuery({ name: 'stage', required: false, type: String, example: 'sanboot' })
  @ApiQuery({ name: 'err', required: false, type: String, description: 'iPXE error number', example: '0x3d0c6039' })
  @ApiQuery({ name: 't', required: false, type: String, description: 'the token DLS handed out with the script URL' })
  async failed(
    @Param('mac') mac: string,
    @Query('stage') stage: unknown,
    @Query('err') err: unknown,
    @Query('t') token: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(res, await this.scripts.failureReported(mac, stage, err, requester(req), token));
  }
}

function send(res: Response, r: ScriptResponse): string {
  headers(res, r.status, 'text/plain; charset=utf-8', r.retryAfter);
  return r.body;
}

function headers(res: Response, status: number, contentType: string, retryAfter?: number): void {
  res.status(status);
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
}

function requester(req: Request): ScriptRequester {
  const strip = (a: string | undefined): string => (a ?? '').replace(/^::ffff:/, '');
  return { sourceIp: strip(req.socket.remoteAddress), serverIp: strip(req.socket.localAddress) };
}
