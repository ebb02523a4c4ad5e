import { CreateInitialSchema1795837215983 } from './1795837215983-CreateInitialSchema';

/** Migrations in the order they run. Add each new `<unix-ms>-<PascalVerbNoun>.ts` here. */
export const MIGRATIONS: Function[] = [CreateInitialSchema1795837215983];
