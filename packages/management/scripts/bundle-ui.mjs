// Build step: bundle the management UI (src/ui) into dist/ui, served at '/' by the management listener.
import { bundleUi } from '../dist/ui-assets.js';

await bundleUi();
