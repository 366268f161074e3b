// Layout checks the specs share: a page must fit a phone's width without
// scrolling sideways, as people use the store and the consent page on phones.
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

module.exports = { expectFits, PHONE };
