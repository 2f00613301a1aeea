import { postgresFactory } from '../support/backends.js';
import { runKeyvSuite } from './suite.js';

runKeyvSuite(postgresFactory);
