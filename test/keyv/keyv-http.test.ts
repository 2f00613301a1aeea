import { postgresFactory, redisFactory } from '../support/backends.js';
import { httpFactory } from '../support/http-backend.js';
import { runKeyvSuite } from './suite.js';

// The third adapter: the store over the HTTP adapter, talking to a real server over each backend.
runKeyvSuite(httpFactory(postgresFactory), 'http over postgres');
runKeyvSuite(httpFactory(redisFactory), 'http over redis');
