/** API roles, lowest first: viewer < operator < admin (`ROLE_RANK` in auth.decorators). */
export enum Role {
  Viewer = 'viewer',
  Operator = 'operator',
  Admin = 'admin',
}
