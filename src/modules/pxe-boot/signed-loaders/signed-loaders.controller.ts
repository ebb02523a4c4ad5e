import { applyDecorators, Body, Controller, Delete, Get, HttpCode, Param, Patch, Put, Query, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { api } from '@common/api';
import { Auth } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { ApiErrors } from '@common/errors/api-errors.decorator';
import { ValidationError } from '@common/errors/domain-error';
import { ETagged, IfMatch } from '@common/etag/etag.decorators';
import type { VersionPrecondition } from '@common/etag/etag';
import { SIGNED_LOADER_PLATFORMS } from './signed-loader.entity';
import { SignedLoaderErrorCode } from './signed-loaders.errors';
import { SignedLoadersService } from './signed-loaders.service';
import { SignedLoaderResponseDto, UpdateSignedLoaderDto, UploadSignedLoaderQuery } from './dto/signed-loader.dto';

const LoaderParams = () =>
  applyDecorators(
    ApiParam({ name: 'platform', enum: SIGNED_LOADER_PLATFORMS }),
    ApiParam({ name: 'name', example: 'ipxe-shimx64.efi', description: 'a file name ending in .efi' }),
  );
const BAD_PARAMS = 'VALIDATION_FAILED (platform or name)';

/**
 * Signed loaders for Secure Boot clients (`/api/v1/signed-loaders`): an operator's signed chain per CPU, e.g. iPXE's
 * Microsoft-signed shim and iPXE's signed `ipxe.efi` beside it, so that Secure Boot clients of images that `sanboot`
 * (Windows) boot too. Debian's shim → GRUB chain (Linux images, x64) needs no upload.
 */
@ApiTags('signed-loaders')
@Controller(api('signed-loaders'))
@Auth(Role.Viewer)
export class SignedLoadersController {
  constructor(private readonly loaders: SignedLoadersService) {}

  @Get()
  @ApiOperation({ summary: 'List the signed loaders (by CPU and name), with the state of their files' })
  @ApiOkResponse({ type: SignedLoaderResponseDto, isArray: true })
  async list(): Promise<SignedLoaderResponseDto[]> {
    return (await this.loaders.list()).map(SignedLoaderResponseDto.from);
  }

  @Get(':platform/:name')
  @LoaderParams()
  @ApiOperation({ summary: 'Get one signed loader' })
  @ETagged(SignedLoaderResponseDto)
  @ApiErrors({ 400: BAD_PARAMS, 404: 'SIGNED_LOADER_NOT_FOUND' })
  async get(@Param('platform') platform: string, @Param('name') name: string): Promise<SignedLoaderResponseDto> {
    return SignedLoaderResponseDto.from(await this.loaders.get(platform, name));
  }

  @Put(':platform/:name')
  @Auth(Role.Admin)
  @LoaderParams()
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiOperation({
    summary: 'Upload a signed EFI program (a PE image for that CPU with an Authenticode signature); replaces one of the same name',
  })
  @ApiOkResponse({ type: SignedLoaderResponseDto })
  @ApiErrors({
    400:
      `${BAD_PARAMS}, BAD_CONTENT_TYPE, UPLOAD_EMPTY, UPLOAD_ABORTED, SIGNED_LOADER_TOO_LARGE (over 32 MiB), SIGNED_LOADER_NOT_EFI, ` +
      'SIGNED_LOADER_WRONG_PLATFORM or SIGNED_LOADER_UNSIGNED',
  })
  async upload(
    @Param('platform') platform: string,
    @Param('name') name: string,
    @Query() q: UploadSignedLoaderQuery,
    @Req() req: Request,
  ): Promise<SignedLoaderResponseDto> {
    const type = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim();
    if (type !== 'application/octet-stream' && type !== 'application/efi') {
      throw new ValidationError(SignedLoaderErrorCode.BAD_CONTENT_TYPE, 'send the file as application/octet-stream', { field: 'content-type' });
    }
    const len = req.headers['content-length'];
    return SignedLoaderResponseDto.from(await this.loaders.upload(platform, name, req, len !== undefined ? Number(len) : undefined, q.entry));
  }

  @Patch(':platform/:name')
  @Auth(Role.Admin)
  @LoaderParams()
  @ApiOperation({
    summary:
      "Make a signed loader its CPU's entry (what DHCP hands Secure Boot clients), or stop it being that (If-Match: only while it is at that version)",
  })
  @ETagged(SignedLoaderResponseDto)
  @ApiErrors({ 400: `${BAD_PARAMS}, entry or INVALID_IF_MATCH`, 404: 'SIGNED_LOADER_NOT_FOUND' })
  async update(
    @Param('platform') platform: string,
    @Param('name') name: string,
    @Body() dto: UpdateSignedLoaderDto,
    @IfMatch() ifMatch?: VersionPrecondition,
  ): Promise<SignedLoaderResponseDto> {
    return SignedLoaderResponseDto.from(await this.loaders.update(platform, name, dto.entry, ifMatch));
  }

  @Delete(':platform/:name')
  @Auth(Role.Admin)
  @HttpCode(204)
  @LoaderParams()
  @ApiOperation({ summary: 'Remove a signed loader and its file (Secure Boot clients of that CPU then fall back to Debian’s chain on x64)' })
  @ApiNoContentResponse()
  @ApiErrors({ 400: BAD_PARAMS, 404: 'SIGNED_LOADER_NOT_FOUND' })
  async remove(@Param('platform') platform: string, @Param('name') name: string): Promise<void> {
    await this.loaders.remove(platform, name);
  }
}
