// The HTTP service and dashboard over the repository (docs/server.md).
export { buildApp, type App, type AppOptions } from './app.ts';
export { SESSION_COOKIE } from './request.ts';
export { startServe, parseListen, isLoopback, type RunningServe, type ServeOptions } from './serve.ts';
export {
  ROLES, MIN_PASSWORD_LENGTH, addToken, addUser, listTokens, listUsers, removeUser, revokeToken, setDisabled, setPassword, setRole,
  validateRole, validateUserName, validatePassword, type Role,
} from './users.ts';
