export { BpfObjectError, type BpfObjectErrorCode, type BpfObjectErrorWhere } from './errors.js';
export { type ParseObjectOptions, parseObject } from './parse.js';
export type {
  BtfLayout,
  BtfMember,
  ParsedMap,
  ParsedMapReference,
  ParsedMapType,
  ParsedObject,
  ParsedProgram,
  ParsedVariable,
} from './parsed.js';
export {
  BpfObject,
  type LoadObjectOptions,
  ObjectMap,
  ObjectProgram,
  type ObjectTimings,
  type OpenObjectOptions,
  openObject,
  openObjectFile,
} from './object.js';
export { type KernelObject, type KernelObjectOptions, kernelMapName, loadObjectIntoKernel } from './kernel-object.js';
