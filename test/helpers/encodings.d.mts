// Types of encodings.mjs for the TypeScript tests.
export function encodeGb18030(text: string): Uint8Array;
export function encodeUtf16(text: string, order: 'le' | 'be', bom?: boolean): Uint8Array;
