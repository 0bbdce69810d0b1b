/**
 * Reads a card URI from a picture of its QR code (a photo or a screenshot), in the page: the image
 * is decoded by the browser (createImageBitmap, so no URL of any kind is made for it and the CSP
 * stays as it is), scaled down, and searched by jsQR, which is loaded on first use as a chunk of
 * the page's own script. Nothing leaves the page.
 */

/** Larger files are refused before they are read: a phone photo is a few MiB. */
export const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
/** Larger pictures (width × height) are refused once the browser has decoded them. */
export const MAX_IMAGE_PIXELS = 50_000_000;
/** The longest side searched first, and the one tried when that finds nothing in a large picture. */
export const SEARCH_SIDES: readonly number[] = [1200, 2400];
/** The image types a file picker offers; pasted or dropped files are checked against them too. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
const CARD_PREFIX = 'umbra:card:';

export type QrImageProblem = 'not-an-image' | 'too-large' | 'unreadable' | 'no-qr-code' | 'not-a-card';

/** Why no card came out of an image; `message` is the line the page shows. */
export class QrImageError extends Error {
  constructor(readonly problem: QrImageProblem, message: string) {
    super(message);
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
}

/** The image's pixels at most `side` pixels on its longest side (never scaled up). */
function pixelsAt(bitmap: ImageBitmap, side: number): ImageData {
  const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (context === null) throw new QrImageError('unreadable', 'This browser cannot read the pixels of an image.');
  context.fillStyle = '#fff'; // a transparent background reads as white, as it is shown
  context.fillRect(0, 0, width, height);
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

/** The text of the first QR code found in `bitmap` scaled to each of `sides` in turn, or undefined. */
export async function findQrText(bitmap: ImageBitmap, sides = SEARCH_SIDES): Promise<string | undefined> {
  const { default: jsQR } = await import('jsqr');
  const longest = Math.max(bitmap.width, bitmap.height);
  for (const side of sides) {
    const image = pixelsAt(bitmap, side);
    const found = jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' });
    if (found !== null) return found.data;
    if (longest <= side) break; // the picture was searched at its full size
  }
  return undefined;
}

/**
 * The `umbra:card:` URI in the QR code that `file` shows. Throws QrImageError when the file is not
 * an image this page reads, is too large, shows no QR code, or shows one that holds no card.
 */
export async function readCardFromImage(file: Blob, name = 'the image'): Promise<string> {
  if (file.type !== '' && !(IMAGE_TYPES as readonly string[]).includes(file.type)) {
    throw new QrImageError('not-an-image', `${name} is not a PNG, JPEG, GIF or WebP image.`);
  }
  if (file.size > MAX_IMAGE_BYTES) {
    throw new QrImageError('too-large', `${name} is larger than ${mib(MAX_IMAGE_BYTES)}: take a screenshot of the code, or a smaller photo.`);
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new QrImageError('unreadable', `${name} could not be read as an image.`);
  }
  try {
    if (bitmap.width * bitmap.height > MAX_IMAGE_PIXELS) {
      throw new QrImageError('too-large', `${name} has more than ${MAX_IMAGE_PIXELS / 1_000_000} million pixels: use a smaller picture.`);
    }
    const text = await findQrText(bitmap);
    if (text === undefined) {
      throw new QrImageError('no-qr-code', `No QR code found in ${name}: use a sharp photo or a screenshot that shows the whole code.`);
    }
    const uri = text.trim();
    if (!uri.startsWith(CARD_PREFIX)) {
      throw new QrImageError('not-a-card', `The QR code in ${name} is not an Umbra card (a card starts with ${CARD_PREFIX}).`);
    }
    return uri;
  } finally {
    bitmap.close();
  }
}

/** The first image among pasted files, if any (a paste of text is left alone). */
export function imageAmong(files: FileList | null | undefined): File | undefined {
  return [...(files ?? [])].find((file) => file.type.startsWith('image/'));
}
