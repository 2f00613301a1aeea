/** Entry point of the server (`cacheport serve`), runnable directly with tsx in development. */
import { runServeCommand } from './serve.js';

runServeCommand();
