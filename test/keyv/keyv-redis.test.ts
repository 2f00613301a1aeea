import { redisFactory } from '../support/backends.js';
import { runKeyvSuite } from './suite.js';

runKeyvSuite(redisFactory);
