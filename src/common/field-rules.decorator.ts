import { ValidateBy, ValidationOptions } from 'class-validator';
import { ipxeValueProblem, IpxeValueKind } from '@protocols/ipxe/ipxe-script';
import { nonUnicastMacReason } from './mac';
import { nonUnicastBlockOf } from './net/ipv4';

/**
 * Field rules shared by several DTOs, as class-validator decorators (so the global pipe and the bulk row validator
 * apply them alike). Each one only judges strings; `IsString`/`IsIP` beside it reports the type.
 */

/**
 * The value must pass the iPXE script renderer's own check (`ipxeUrl` for kernel/initrd URLs, `ipxeCmdline` for
 * command lines): what is stored is what will render at boot. The message is the renderer's, naming the field.
 */
export function IsIpxeValue(kind: IpxeValueKind, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: `isIpxe${kind === 'url' ? 'Url' : 'Cmdline'}`,
      validator: {
        validate: (v: unknown, args) => typeof v !== 'string' || ipxeValueProblem(kind, v, args?.property ?? kind) === null,
        defaultMessage: (args) => {
          const field = args?.property ?? kind;
          const problem = ipxeValueProblem(kind, args?.value, field) ?? `${field} is not valid in an iPXE script`;
          return `${problem} (the iPXE boot script would refuse it)`;
        },
      },
    },
    options,
  );
}

/** A canonical MAC that a NIC can own: not all-zero, not broadcast, not multicast (first octet odd). */
export function IsUnicastMac(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isUnicastMac',
      validator: {
        validate: (v: unknown) => typeof v !== 'string' || nonUnicastMacReason(v) === null,
        defaultMessage: (args) => `${args?.property} ${String(args?.value)} is ${nonUnicastMacReason(String(args?.value))}, not a client's own MAC`,
      },
    },
    options,
  );
}

/**
 * An IPv4 address or CIDR in ordinary unicast space: not inside (nor overlapping) 0.0.0.0/8, 127.0.0.0/8,
 * 169.254.0.0/16, 224.0.0.0/4 or 240.0.0.0/4.
 */
export function IsUnicastIpv4(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isUnicastIpv4',
      validator: {
        validate: (v: unknown) => typeof v !== 'string' || nonUnicastBlockOf(v) === null,
        defaultMessage: (args) => {
          const value = String(args?.value);
          const block = nonUnicastBlockOf(value);
          const where = `${block?.cidr ?? 'a special-purpose block'} (${block?.name ?? 'not unicast'})`;
          return `${args?.property} ${value} ${value.includes('/') ? 'overlaps' : 'lies in'} ${where}, which can't be used for network boot`;
        },
      },
    },
    options,
  );
}
