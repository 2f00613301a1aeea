import { redisFactory } from '../support/backends.js';
import { runContractSuite } from './suite.js';

runContractSuite(redisFactory);
