// Layout checks the specs share: a page must fit a phone's width without
// scrolling sideways, as people use the store and the consent page on phones,
// text must be readable against its background, and nothing the browser
// loads may fail or break the content security policy.
const { expect } = require('./server');

const PHONE = { width: 375, height: 740 };

// expectFits checks that the current page, at the given viewport (a phone's
// by default), is no wider than the viewport, naming the elements that stick
// out when it is; the viewport is restored afterwards.
async function expectFits(page, viewport = PHONE) {
  const before = page.viewportSize();
  await page.setViewportSize(viewport);
  try {
    const wider = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      if (document.documentElement.scrollWidth <= width) return [];
      return [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > width + 1)
        .map((el) => `<${el.tagName.toLowerCase()}${el.className ? ` class="${el.className}"` : ''}> ${el.textContent.trim().slice(0, 30)}`)
        .slice(0, 10);
    });
    expect(wider, `${page.url()} is wider than ${viewport.width} px`).toEqual([]);
  } finally {
    await page.setViewportSize(before);
  }
}

// contrast is the WCAG 2 contrast ratio of an element's text colour against
// its background (the first opaque one of it and its ancestors); AA asks for
// 4.5 for normal text.
function contrast(locator) {
  return locator.evaluate((el) => {
    const rgb = (css) => css.match(/[\d.]+/g).map(Number);
    const luminance = (css) => {
      const [r, g, b] = rgb(css).slice(0, 3).map((v) => {
        const c = v / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    let bg = 'rgb(255, 255, 255)';
    for (let node = el; node; node = node.parentElement) {
      const css = getComputedStyle(node).backgroundColor;
      if ((rgb(css)[3] ?? 1) === 1) { bg = css; break; }
    }
    const [a, b] = [luminance(getComputedStyle(el).color), luminance(bg)];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  });
}

// watchConsole collects the browser console's errors of a page (a resource
// that failed to load, a CSP violation, a script error) from now on. The
// page's own status is left out: a form with errors answers 422 by design.
function watchConsole(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error' || msg.location().url === page.url()) return;
    errors.push(`${page.url()}: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
  return errors;
}

module.exports = { expectFits, contrast, watchConsole, PHONE };
