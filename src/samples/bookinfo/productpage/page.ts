// productpage's HTML: the index page and /productpage (book summary, a details box, a reviews box with stars).
// Stars are spans a test can count and tell apart: `<span class="glyphicon glyphicon-star" style="color: red">`
// (v3) or `color: black` (v2); no other markup on the page carries those two style strings.
import type { BookDetails } from '../details.ts';

export interface Product {
  id: number;
  title: string;
  /** Trusted HTML (it is our own constant). */
  descriptionHtml: string;
}

export type DetailsView = { ok: true; details: Partial<Record<keyof BookDetails, unknown>> } | { ok: false; error: string };

export type RatingView = { stars: number; color: string } | { error: string } | undefined;

export interface ReviewView {
  reviewer: string;
  text: string;
  rating: RatingView;
}

export type ReviewsView =
  | { ok: true; reviews: ReviewView[]; podname: string; clustername: string }
  | { ok: false; error: string };

export interface ProductPageModel {
  product: Product;
  /** The signed-in user, or undefined. */
  user: string | undefined;
  details: DetailsView;
  reviews: ReviewsView;
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const STYLE = `
  body { margin: 0; font-family: system-ui, sans-serif; color: #1f2937; background: #ffffff; }
  nav { background: #1f2937; padding: 0.8rem 2rem; display: flex; justify-content: space-between; align-items: center; }
  nav a, nav span, nav button { color: #f9fafb; font-size: 1rem; }
  nav .brand { font-size: 1.2rem; font-weight: 600; text-decoration: none; }
  nav form { display: inline-flex; gap: 0.4rem; margin: 0; }
  nav input { padding: 0.2rem 0.4rem; }
  nav button { background: #2563eb; border: 0; border-radius: 4px; padding: 0.3rem 0.8rem; cursor: pointer; }
  main { max-width: 60rem; margin: 0 auto; padding: 1rem 2rem; }
  h1 { font-size: 2.4rem; color: #1e3a8a; }
  table { border-collapse: collapse; margin-top: 0.5rem; }
  th, td { border: 1px solid #d1d5db; padding: 0.4rem 0.8rem; text-align: left; }
  th { background: #466bb0; color: #ffffff; }
  .box { margin-top: 2rem; }
  .reviews { display: flex; flex-wrap: wrap; gap: 2rem; }
  .review { flex: 1 1 20rem; }
  blockquote { font-size: 1.2rem; font-weight: 600; margin: 0.6rem 0; }
  .stars span { font-size: 1.3rem; }
  .error-title { color: #b91c1c; font-size: 1.3rem; }
  .rating-error { color: #b91c1c; font-style: italic; }
  .served-by { font-family: monospace; color: #4b5563; }
`;

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** The top bar: the signed-in user, the sign-in form, or (on the index page) neither. */
type NavState = { kind: 'signed-in'; user: string } | { kind: 'signed-out' } | { kind: 'bare' };

function nav(state: NavState): string {
  let right = '';
  if (state.kind === 'signed-out') {
    right = `<form method="post" action="login" name="login_form">
    <input type="text" name="username" id="username" placeholder="User Name" required>
    <input type="password" name="passwd" placeholder="Password">
    <button type="submit" id="sign-in-button">Sign in</button>
  </form>`;
  } else if (state.kind === 'signed-in') {
    right = `<span class="user">Signed in as <b id="user">${escapeHtml(state.user)}</b> ( <a href="logout">sign out</a> )</span>`;
  }
  return `<nav>
  <a class="brand" href="#">BookInfo Sample</a>
  ${right}
</nav>`;
}

/** Only plain colour names and hex colours reach a style attribute; anything else is shown grey. */
function safeColor(color: string): string {
  return /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{1,20})$/.test(color) ? color : 'gray';
}

function stars(rating: { stars: number; color: string }): string {
  const full = Math.max(0, Math.min(5, Math.trunc(rating.stars)));
  const color = safeColor(rating.color);
  const style = `style="color: ${escapeHtml(color)}"`;
  const spans = [
    ...Array.from({ length: full }, () => `<span class="glyphicon glyphicon-star" ${style} aria-hidden="true">&#9733;</span>`),
    ...Array.from({ length: 5 - full }, () => `<span class="glyphicon glyphicon-star-empty" ${style} aria-hidden="true">&#9734;</span>`),
  ];
  return `<div class="stars" data-stars="${full}" data-star-color="${escapeHtml(color)}" title="${full} of 5 stars">
        ${spans.join('\n        ')}
      </div>`;
}

function ratingHtml(rating: RatingView): string {
  if (rating === undefined) return '';
  if ('error' in rating) return `<p class="rating-error"><i>${escapeHtml(rating.error)}</i></p>`;
  return rating.stars > 0 ? stars(rating) : '';
}

function detailsBox(view: DetailsView): string {
  if (!view.ok) {
    return `<section class="box details" id="details">
  <h4 class="error-title">Error fetching product details!</h4>
  <p class="details-error">${escapeHtml(view.error)}</p>
</section>`;
  }
  const d = view.details;
  const rows: [string, unknown][] = [
    ['Type', d.type], ['Pages', d.pages], ['Publisher', d.publisher], ['Language', d.language],
    ['ISBN-10', d['ISBN-10']], ['ISBN-13', d['ISBN-13']],
  ];
  return `<section class="box details" id="details">
  <h4>Book Details</h4>
  <table>
    <thead><tr>${rows.map(([k]) => `<th>${escapeHtml(k)}</th>`).join('')}</tr></thead>
    <tbody><tr>${rows.map(([, v]) => `<td>${escapeHtml(v)}</td>`).join('')}</tr></tbody>
  </table>
</section>`;
}

function reviewsBox(view: ReviewsView): string {
  if (!view.ok) {
    return `<section class="box reviews-box" id="reviews">
  <h4 class="error-title">Error fetching product reviews!</h4>
  <p class="reviews-error">${escapeHtml(view.error)}</p>
</section>`;
  }
  const cluster = view.clustername !== 'null' && view.clustername !== '' ? ` on cluster <u>${escapeHtml(view.clustername)}</u>` : '';
  const items = view.reviews.map((r) => `<div class="review">
      ${ratingHtml(r.rating)}
      <blockquote><p>&quot;${escapeHtml(r.text)}&quot;</p></blockquote>
      <div class="reviewer">${escapeHtml(r.reviewer)}</div>
    </div>`);
  return `<section class="box reviews-box" id="reviews">
  <h4>Book Reviews</h4>
  <div class="reviews">
    ${items.join('\n    ')}
  </div>
  <p class="served-by">Reviews served by: <u id="podname">${escapeHtml(view.podname)}</u>${cluster}</p>
</section>`;
}

export function renderProductPage(model: ProductPageModel): string {
  const state: NavState = model.user === undefined ? { kind: 'signed-out' } : { kind: 'signed-in', user: model.user };
  return layout('Simple Bookstore App', `${nav(state)}
<main>
<h1 id="title">${escapeHtml(model.product.title)}</h1>
<p class="summary">${model.product.descriptionHtml}</p>
${detailsBox(model.details)}
${reviewsBox(model.reviews)}
</main>`);
}

/** One service and the services it calls, for the index page's table. */
export interface ServiceNode {
  name: string;
  url: string;
  children: ServiceNode[];
}

function serviceRows(node: ServiceNode, depth: number): string[] {
  const indent = '&nbsp;&nbsp;&nbsp;&nbsp;'.repeat(depth);
  return [
    `<tr><td>${indent}${escapeHtml(node.name)}</td><td>${escapeHtml(node.url)}</td></tr>`,
    ...node.children.flatMap((c) => serviceRows(c, depth + 1)),
  ];
}

export function renderIndex(tree: ServiceNode): string {
  return layout('Simple Bookstore App', `${nav({ kind: 'bare' })}
<main>
<h3>Bookinfo is a small bookstore made of four services; productpage calls the others as shown below.</h3>
<table>
  <thead><tr><th>Service</th><th>Address</th></tr></thead>
  <tbody>
  ${serviceRows(tree, 0).join('\n  ')}
  </tbody>
</table>
<p>Open the product page as a normal user or as a tester:</p>
<ul>
  <li><a href="/productpage?u=normal">Normal user</a></li>
  <li><a href="/productpage?u=test">Test user</a></li>
</ul>
</main>`);
}
