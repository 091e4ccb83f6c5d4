// Every monitoring check on PostgreSQL 15 with pgAudit (Debian).
import { monitorSuite } from './suite.ts';

monitorSuite('pg15');
