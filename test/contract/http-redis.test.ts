import { redisFactory } from '../support/backends.js';
import { httpFactory } from '../support/http-backend.js';
import { runContractSuite } from './suite.js';

runContractSuite(httpFactory(redisFactory), { label: 'http over redis' });
