/** Entry point of the standalone worker (`cacheport worker`), runnable directly with tsx in development. */
import { runWorkerCommand } from './worker-command.js';

runWorkerCommand();
