import createDOMPurify, { type Config } from 'dompurify';

/**
 * Mail HTML made safe to show (docs/web.md, "Reading HTML"): DOMPurify with the HTML profile, then
 * nothing that runs or fetches. Scripts and event handlers go (DOMPurify); style sheets and style
 * attributes go (no `url()` can leak that a mail was opened, no CSS selector can read the page);
 * every remote image, background or frame goes, so opening a mail tells no server anything. Inline
 * images as `data:` stay. The result is shown in an iframe with an empty sandbox (no script, no
 * same origin), under the page's Content-Security-Policy (no remote load): three walls, not one.
 */
export interface SanitisedHtml {
  readonly html: string;
  /** Remote images, style sheets and other fetches that were removed. */
  readonly blocked: number;
}

const purify = createDOMPurify(window);

const CONFIG: Config = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'link', 'meta', 'base', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'frame', 'frameset', 'object', 'embed', 'audio', 'video', 'source', 'track', 'picture', 'template', 'noscript'],
  FORBID_ATTR: ['style', 'srcset', 'background', 'poster', 'action', 'formaction', 'ping', 'lowsrc', 'dynsrc', 'longdesc', 'usemap', 'cite'],
  ALLOW_DATA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  SANITIZE_NAMED_PROPS: true,
  WHOLE_DOCUMENT: false,
};

/** Images may come only inline, in a raster format. */
const INLINE_IMAGE = /^data:image\/(png|gif|jpeg|webp);base64,[A-Za-z0-9+/=\s]*$/i;
/** Links a reader may follow (in a new tab, without a referrer). */
const LINK = /^(https?:|mailto:)/i;
/** Tags that fetch something when present: counted as blocked remote content. */
const FETCHING_TAGS = new Set(['link', 'style', 'iframe', 'frame', 'object', 'embed', 'audio', 'video', 'source', 'picture', 'base', 'meta']);

let blocked = 0;

purify.addHook('uponSanitizeElement', (node, data) => {
  if (FETCHING_TAGS.has(data.tagName)) blocked++;
  void node;
});

purify.addHook('uponSanitizeAttribute', (_node, data) => {
  if (data.attrName === 'style' && /url\s*\(|@import|image-set/i.test(data.attrValue)) blocked++;
  if (data.attrName === 'srcset' || data.attrName === 'background' || data.attrName === 'poster') blocked++;
});

purify.addHook('afterSanitizeAttributes', (node) => {
  const element = node as Element;
  if (element.tagName === 'IMG') {
    const src = element.getAttribute('src') ?? '';
    if (src !== '' && !INLINE_IMAGE.test(src)) {
      blocked++;
      element.removeAttribute('src');
      element.setAttribute('alt', `[remote image blocked] ${element.getAttribute('alt') ?? ''}`.trim());
    }
  }
  if (element.tagName === 'A') {
    const href = element.getAttribute('href') ?? '';
    if (!LINK.test(href)) element.removeAttribute('href');
    element.setAttribute('target', '_blank');
    element.setAttribute('rel', 'noopener noreferrer');
  }
  // Whatever else names a resource (an <area href>, an unknown tag's src) is dropped.
  for (const name of ['src', 'href', 'xlink:href', 'data']) {
    if (element.tagName === 'A' && name === 'href') continue;
    if (element.tagName === 'IMG' && name === 'src') continue;
    if (element.hasAttribute(name)) {
      blocked++;
      element.removeAttribute(name);
    }
  }
});

export function sanitiseMailHtml(dirty: string): SanitisedHtml {
  blocked = 0;
  const html = purify.sanitize(dirty, CONFIG) as unknown as string;
  return { html, blocked };
}
