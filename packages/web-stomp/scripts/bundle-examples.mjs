// Build step: bundle the example page (and its browser client library) into dist/www, served by the listener.
import { bundleExamples } from '../dist/examples.js';

await bundleExamples();
