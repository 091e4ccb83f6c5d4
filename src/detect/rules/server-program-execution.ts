// server_program_execution: the server made to run programs or read and write its files.
import { globs } from '../schema.ts';
import { plural, who, type BuiltinRule } from './rule.ts';

export const serverProgramExecution: BuiltinRule = {
  id: 'server_program_execution',
  title: 'COPY … TO/FROM PROGRAM, functions in untrusted languages, server-side lo_import/lo_export, pg_read_file and friends',
  severity: 'critical',
  type: 'match',
  params: {
    functions: globs.default(['pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'pg_stat_file', 'lo_import', 'lo_export',
      'pg_file_write', 'pg_file_rename', 'pg_file_unlink', 'pg_file_sync']),
    languages: globs.default(['c', 'internal', 'plpython3u', 'plpythonu', 'plpython2u', 'plperlu', 'pltclu', 'plsh', 'plr']),
  },
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1059', 'T1005'],
  compliance: {
    pci_dss: ['10.2.1.2', '2.2.4'],
    hipaa: ['164.312(a)(1)', '164.312(b)'],
    gdpr: ['Art. 32'],
    nist_800_53: ['CM-7', 'AC-6', 'SI-4'],
  },
  build: (p) => ({
    match: [{ signals: ['copy_program'] }, { functions: p.functions as string[] }, { languages: p.languages as string[] }],
    group_by: ['user'],
  }),
  summary: (i) => `${who(i.user)} ran programs or read/wrote server files from SQL (${plural(i.count, 'statement')})`,
};
