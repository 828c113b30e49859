import { builder } from '../builder.js';
import './errors.js';
import './chat.js';
import './models.js';
import './viewer.js';

export const schema = builder.toSchema({ sortSchema: true });
