export { seededRandom } from '../../eval/random';
