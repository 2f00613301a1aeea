import { postgresFactory } from '../support/backends.js';
import { httpFactory } from '../support/http-backend.js';
import { runContractSuite } from './suite.js';

runContractSuite(httpFactory(postgresFactory), { label: 'http over postgres' });
