/** REST API base path; iPXE script routes (`/boot/...`) and Swagger (`/docs`) live outside it. */
export const API_PREFIX = 'api/v1';
export const api = (path: string): string => `${API_PREFIX}/${path}`;
