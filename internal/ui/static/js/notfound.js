// The not-found page only shows who is logged in.
import { header } from './common.js';

header();
