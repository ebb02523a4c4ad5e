import type { MigrationInterface } from 'typeorm';
import { CreateInitialSchema1795837215983 } from './1795837215983-CreateInitialSchema';
import { AddStorageAndBootPlane1795837477715 } from './1795837477715-AddStorageAndBootPlane';
import { IndexLeasesAndRefreshTokens1795839895125 } from './1795839895125-IndexLeasesAndRefreshTokens';
import { AddUserTokenGeneration1796463358375 } from './1796463358375-AddUserTokenGeneration';
import { AddUniqueClientIpAddress1796463599857 } from './1796463599857-AddUniqueClientIpAddress';
import { AddClientGroups1796467802911 } from './1796467802911-AddClientGroups';
import { AddListIndexes1796468400000 } from './1796468400000-AddListIndexes';
import { AddRowVersions1796473664993 } from './1796473664993-AddRowVersions';
import { AddWakeSchedules1796474489035 } from './1796474489035-AddWakeSchedules';
import { AddEvents1796478000000 } from './1796478000000-AddEvents';
import { AddWakeScheduleVersion1796478564016 } from './1796478564016-AddWakeScheduleVersion';
import { AddBootSessionStages1796484414527 } from './1796484414527-AddBootSessionStages';
import { AddBootSessionFirmware1796527132943 } from './1796527132943-AddBootSessionFirmware';
import { AddClientSecureBoot1796530595235 } from './1796530595235-AddClientSecureBoot';
import { AddSignedLoaders1796538868871 } from './1796538868871-AddSignedLoaders';
import { AddNodes1796539398813 } from './1796539398813-AddNodes';
import { AddSharedSecrets1796540569148 } from './1796540569148-AddSharedSecrets';
import { AddClientDiskNode1796551031379 } from './1796551031379-AddClientDiskNode';
import { AddVersionReplicas1796549543633 } from './1796549543633-AddVersionReplicas';
import { AddImageContentNode1796541335896 } from './1796541335896-AddImageContentNode';

/** Migrations in the order they run. Add each new `<unix-ms>-<PascalVerbNoun>.ts` here. */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  CreateInitialSchema1795837215983,
  AddStorageAndBootPlane1795837477715,
  IndexLeasesAndRefreshTokens1795839895125,
  AddUserTokenGeneration1796463358375,
  AddUniqueClientIpAddress1796463599857,
  AddClientGroups1796467802911,
  AddListIndexes1796468400000,
  AddRowVersions1796473664993,
  AddWakeSchedules1796474489035,
  AddEvents1796478000000,
  AddWakeScheduleVersion1796478564016,
  AddBootSessionStages1796484414527,
  AddBootSessionFirmware1796527132943,
  AddClientSecureBoot1796530595235,
  AddSignedLoaders1796538868871,
  AddNodes1796539398813,
  AddSharedSecrets1796540569148,
  AddImageContentNode1796541335896,
  AddVersionReplicas1796549543633,
  AddClientDiskNode1796551031379,
];
