export { ddlEvents, ddlEventsAfter, ddlRowToEvent, type DdlRow, type DdlFilter } from './events.ts';
export {
  readPolicy, changePolicy, listWindows, addWindow, removeWindow, type DdlPolicy, type DdlWindow, type PolicyChange,
} from './policy.ts';
