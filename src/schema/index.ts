import { builder } from '../builder.js';
import './errors.js';
import './chat.js';
import './models.js';

export const schema = builder.toSchema({ sortSchema: true });
