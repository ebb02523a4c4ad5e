import { ApiProperty } from '@nestjs/swagger';
import { NODE_STATES } from '../node.entity';
import type { NodeView } from '../cluster.service';

export class NodeRangeDto {
  @ApiProperty({ format: 'uuid' }) rangeId: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'hand-overs of this range so far (1 = first holder)', example: '1' }) epoch: string;
  @ApiProperty({ description: 'when the hold ends unless renewed (the database clock)' }) expiresAt: Date;
}

/** A DLS node as the API returns it. */
export class NodeResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'dls-a' }) name: string;
  @ApiProperty({ type: [String], description: 'its IPv4 addresses at its last heartbeat' }) addresses: string[];
  @ApiProperty() httpPort: number;
  @ApiProperty({ description: 'clients it is sized to boot at once (DLS_NODE_CAPACITY)' }) capacity: number;
  @ApiProperty({ enum: NODE_STATES, description: 'active: takes ranges; draining: hands its ranges over and takes none; stopped: shut down' })
  state: string;
  @ApiProperty({ description: 'heartbeat within DLS_NODE_LEASE and not stopped' }) healthy: boolean;
  @ApiProperty({ description: 'the node that answered this request' }) self: boolean;
  @ApiProperty({ type: [NodeRangeDto], description: 'the network ranges it answers DHCP for now' }) ranges: NodeRangeDto[];
  @ApiProperty({ description: 'running clients whose disks its iSCSI target serves (a drained node is empty at 0)' }) runningClients: number;
  @ApiProperty() version: string;
  @ApiProperty() startedAt: Date;
  @ApiProperty() heartbeatAt: Date;

  static from(n: NodeView): NodeResponseDto {
    const d = new NodeResponseDto();
    d.id = n.id;
    d.name = n.name;
    d.addresses = n.addresses;
    d.httpPort = n.httpPort;
    d.capacity = n.capacity;
    d.state = n.state;
    d.healthy = n.healthy;
    d.self = n.self;
    d.ranges = n.ranges.map((r) => Object.assign(new NodeRangeDto(), r));
    d.runningClients = n.runningClients;
    d.version = n.dlsVersion;
    d.startedAt = n.startedAt;
    d.heartbeatAt = n.heartbeatAt;
    return d;
  }
}
