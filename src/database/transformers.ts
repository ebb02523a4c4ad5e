import { ValueTransformer } from 'typeorm';

/** BIGINT columns arrive from `pg` as strings; DLS keeps them as JS numbers (safe below 2^53). */
export const bigintNumber: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | null) => (v === null || v === undefined ? v : Number(v)),
};
