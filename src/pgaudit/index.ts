// pgAudit management: status, enable/disable session auditing, object auditing.
export * from './classes.ts';
export * from './status.ts';
export * from './manage.ts';
