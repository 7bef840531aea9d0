const { TestEnvironment } = require('jest-environment-node');

/**
 * Jest runs each test file in its own realm, whose typed-array constructors differ from the
 * host's. onnxruntime-node and sharp check `instanceof Float32Array` (and friends) against the
 * host's, so the sandbox gets the host's constructors.
 */
const SHARED = [
  'ArrayBuffer', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array', 'Uint16Array', 'Int16Array',
  'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class SharedTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArrayEnvironment;
