// Every monitoring check on PostgreSQL 18 (embedded).
import { monitorSuite } from './suite.ts';

monitorSuite('pg18');
