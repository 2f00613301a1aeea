import { postgresFactory } from '../support/backends.js';
import { runContractSuite } from './suite.js';

runContractSuite(postgresFactory);
