/**
 * The BTF type records (`struct btf_type` and what follows it, `<linux/btf.h>`), as typed
 * objects. Type ids index {@link Btf.types}; id 0 is `void`.
 */

/** `BTF_KIND_*` numbers (bits 24-28 of `btf_type.info`). */
export const BTF_KIND = Object.freeze({
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const);

/** `BTF_INT_SIGNED`: bit 0 of an INT's encoding. */
export const BTF_INT_SIGNED = 1;

interface Base {
  /** File offset of the record, for error messages. */
  readonly offset: number;
  /** The name ('' when anonymous). */
  readonly name: string;
}

/** `void` (type id 0). */
export interface BtfVoid extends Base {
  readonly kind: 'void';
}

/** `BTF_KIND_INT`. */
export interface BtfInt extends Base {
  readonly kind: 'int';
  readonly size: number;
  /** `BTF_INT_ENCODING`: `BTF_INT_SIGNED` (1), `CHAR` (2), `BOOL` (4). */
  readonly encoding: number;
  /** `BTF_INT_OFFSET`: bit offset of the value inside its storage. */
  readonly bitOffset: number;
  /** `BTF_INT_BITS`: the value's width in bits. */
  readonly bits: number;
}

/** Kinds that only refer to another type: PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG. */
export interface BtfRef extends Base {
  readonly kind: 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag';
  readonly type: number;
}

/** `BTF_KIND_ARRAY` (`struct btf_array`). */
export interface BtfArray extends Base {
  readonly kind: 'array';
  readonly type: number;
  readonly indexType: number;
  readonly nelems: number;
}

/** One member of a struct or union (`struct btf_member`), bit offset and bitfield size decoded. */
export interface BtfTypeMember {
  readonly name: string;
  readonly type: number;
  readonly bitOffset: number;
  /** Bitfield size from a `kind_flag` struct, 0 otherwise. */
  readonly bitSize: number;
}

/** `BTF_KIND_STRUCT` / `BTF_KIND_UNION`. */
export interface BtfComposite extends Base {
  readonly kind: 'struct' | 'union';
  readonly size: number;
  readonly members: readonly BtfTypeMember[];
}

/** `BTF_KIND_ENUM` / `BTF_KIND_ENUM64`. */
export interface BtfEnum extends Base {
  readonly kind: 'enum' | 'enum64';
  readonly size: number;
  /** `kind_flag`: the values are signed. */
  readonly signed: boolean;
  readonly values: readonly { readonly name: string; readonly value: bigint }[];
}

/** `BTF_KIND_FWD`. */
export interface BtfFwd extends Base {
  readonly kind: 'fwd';
  readonly union: boolean;
}

/** `BTF_KIND_FUNC`. */
export interface BtfFunc extends Base {
  readonly kind: 'func';
  readonly type: number;
  /** `enum btf_func_linkage`: static 0, global 1, extern 2. */
  readonly linkage: number;
}

/** `BTF_KIND_FUNC_PROTO`. */
export interface BtfFuncProto extends Base {
  readonly kind: 'func_proto';
  readonly returnType: number;
  readonly params: readonly { readonly name: string; readonly type: number }[];
}

/** `BTF_KIND_VAR`. */
export interface BtfVar extends Base {
  readonly kind: 'var';
  readonly type: number;
  /** static 0, global allocated 1, global extern 2. */
  readonly linkage: number;
}

/** One variable of a DATASEC (`struct btf_var_secinfo`). */
export interface BtfVarSecinfo {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

/** `BTF_KIND_DATASEC`: the variables of an ELF section (`.data`, `.maps`, `.kconfig`, ...). */
export interface BtfDatasec extends Base {
  readonly kind: 'datasec';
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}

/** `BTF_KIND_FLOAT`. */
export interface BtfFloat extends Base {
  readonly kind: 'float';
  readonly size: number;
}

/** `BTF_KIND_DECL_TAG`. */
export interface BtfDeclTag extends Base {
  readonly kind: 'decl_tag';
  readonly type: number;
  readonly componentIdx: number;
}

/** Any BTF type. */
export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfRef
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfFwd
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;
