// The subset of the `aez` package (AEZ v5, a port of the reference implementation) used here.
declare module 'aez' {
  interface Aez {
    encrypt(key: Buffer, nonce: Buffer | null, ad: Buffer[] | null, tau: number, plaintext: Buffer): Buffer;
    decrypt(key: Buffer, nonce: Buffer | null, ad: Buffer[] | null, tau: number, ciphertext: Buffer): Buffer | null;
  }
  const aez: Aez;
  export default aez;
}
