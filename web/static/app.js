// The nakachain node's page: dashboard, wallet, explorer and charts, kept
// up to date by the server's event stream. Every string from the server is
// put in the page as text (textContent), never as markup.
'use strict';

// ---- The API token: taken from the URL fragment, kept for this tab. ----
const TOKEN_KEY = 'nakachain-token';
const WALLET_KEY = 'nakachain-wallet';
(function takeToken() {
  const m = location.hash.match(/^#token=([0-9a-fA-F]{64})$/);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, m[1].toLowerCase());
    // Take the token out of the address bar and the history.
    history.replaceState(null, '', location.pathname + location.search + '#/dashboard');
  }
})();
const token = sessionStorage.getItem(TOKEN_KEY);

// ---- Small helpers. ----
const $ = (id) => document.getElementById(id);

// el makes an element; string children become text nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
function setText(id, text) { $(id).textContent = text; }
function link(href, text, attrs) { return el('a', Object.assign({ href }, attrs || {}), text); }
function short(h, n) { return h ? h.slice(0, n || 12) + '…' : ''; }
function blockLink(hash, text) { return link('#/block/' + encodeURIComponent(hash), text || short(hash), { class: 'hash', 'data-testid': 'block-link' }); }
function txLink(id, text) { return link('#/tx/' + encodeURIComponent(id), text || short(id), { class: 'hash', 'data-testid': 'tx-link' }); }
function addrLink(a, text) { return link('#/address/' + encodeURIComponent(a), text || short(a, 14), { class: 'addr', 'data-testid': 'address-link' }); }
function fmtTime(ns) {
  if (!ns) return '';
  const d = new Date(ns / 1e6);
  return d.toLocaleTimeString() + (Date.now() - d > 86400e3 ? ' ' + d.toLocaleDateString() : '');
}
function ago(ns) {
  const s = Math.max(0, Math.round((Date.now() - ns / 1e6) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  return Math.floor(s / 3600) + ' h ago';
}
function fmtNum(n) { return Number(n).toLocaleString('en-US'); }
function fmtRate(r) {
  if (!r) return '0 H/s';
  const units = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s'];
  let i = 0;
  while (r >= 1000 && i < units.length - 1) { r /= 1000; i++; }
  return (r >= 100 ? r.toFixed(0) : r.toFixed(1)) + ' ' + units[i];
}
function fmtBig(s) {
  // A decimal string (total work) in a short form.
  if (s.length <= 6) return fmtNum(s);
  return s[0] + '.' + s.slice(1, 3) + 'e' + (s.length - 1);
}

// ---- Talking to the server. ----
class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}
async function api(path, opts) {
  opts = opts || {};
  const headers = {};
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.auth && token) headers['Authorization'] = 'Bearer ' + token;
  const res = await fetch(path, {
    method: opts.method || (opts.body !== undefined ? 'POST' : 'GET'),
    headers, body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    cache: 'no-store',
  });
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    throw new ApiError(res.status, data && data.code || 'HTTP' + res.status, data && data.error || res.statusText);
  }
  return data;
}
// showError puts an error in a box: its code, then its message.
function showError(id, err) {
  const box = $(id);
  box.replaceChildren();
  if (!err) return;
  if (err instanceof ApiError) {
    box.append(el('span', { class: 'code', 'data-testid': 'error-code' }, err.code), ' ', err.message, ' (HTTP ' + err.status + ')');
  } else {
    box.append(String(err.message || err));
  }
}

// ---- State shared by the views. ----
const state = {
  status: null,
  names: [],     // the address book: [{name, address}]
  wallets: [],   // the node's wallets
  wallet: sessionStorage.getItem(WALLET_KEY) || '',
  route: { view: 'dashboard', arg: '' },
  blocksStart: null, // explorer page: start height, null for the tip
  historySkip: 0,
  seen: new Set(),   // transaction IDs shown, to flash new ones
};

function nameOf(addr) {
  for (const w of state.wallets) if (w.address === addr) return w.name;
  for (const n of state.names) if (n.address === addr) return n.name;
  return '';
}
// who shows an address by its name if it has one, as text.
function who(addr) {
  if (!addr) return 'new coins';
  const n = nameOf(addr);
  return addrLink(addr, n ? n : short(addr, 14));
}

// ---- Routing: #/view/arg. ----
function parseRoute() {
  const m = location.hash.match(/^#\/([a-z-]+)(?:\/(.*))?$/);
  if (!m) return { view: 'dashboard', arg: '' };
  return { view: m[1], arg: m[2] ? decodeURIComponent(m[2]) : '' };
}
const explorerRoutes = ['explorer', 'block', 'tx', 'address', 'block-height'];
function showView() {
  state.route = parseRoute();
  const v = explorerRoutes.includes(state.route.view) ? 'explorer' : state.route.view;
  for (const name of ['dashboard', 'wallet', 'explorer', 'charts']) {
    $('view-' + name).hidden = name !== v;
    $('tab-' + name).classList.toggle('active', name === v);
  }
  if (!['dashboard', 'wallet', 'explorer', 'charts'].includes(v)) { location.hash = '#/dashboard'; return; }
  refresh(true);
}

// ---- Refreshing: what the current view shows, at most every 150 ms. ----
let refreshTimer = null;
let refreshing = false;
let refreshAgain = false;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(false); }, 150);
}
async function refresh(navigated) {
  if (refreshing) { refreshAgain = true; return; }
  refreshing = true;
  try {
    await loadStatus();
    await loadNamesAndWallets();
    const r = state.route;
    switch (r.view) {
      case 'dashboard': await renderDashboard(); break;
      case 'wallet': await renderWallet(); break;
      case 'explorer': await renderBlocks(); break;
      case 'block': await renderBlock(r.arg); break;
      case 'block-height': await renderBlockHeight(r.arg); break;
      case 'tx': await renderTx(r.arg, navigated); break;
      case 'address': await renderAddress(r.arg, navigated); break;
      case 'charts': await renderCharts(); break;
    }
    $('notice').hidden = true;
  } catch (err) {
    $('notice').hidden = false;
    $('notice').textContent = 'Cannot reach the node: ' + (err.message || err);
  } finally {
    refreshing = false;
    if (refreshAgain) { refreshAgain = false; refreshSoon(); }
  }
}

async function loadStatus() {
  const s = await api('/api/status');
  state.status = s;
  setText('node-id', s.node_id + ' · ' + s.network);
  document.title = 'nakachain · ' + s.node_id + ' · ' + s.tip.height;
}
async function loadNamesAndWallets() {
  const [names, wallets] = await Promise.all([api('/api/names'), api('/api/wallets')]);
  state.names = names;
  state.wallets = wallets;
  const dl = $('send-names');
  dl.replaceChildren(...names.map((n) => el('option', { value: n.name })));
}

// ---- Dashboard. ----
async function renderDashboard() {
  const s = state.status;
  setText('tip-height', fmtNum(s.tip.height));
  const th = $('tip-hash');
  th.textContent = short(s.tip.hash, 16);
  th.setAttribute('href', '#/block/' + s.tip.hash);
  setText('peer-count', s.peers);
  setText('mempool-count', s.mempool);
  setText('hash-rate', fmtRate(s.hash_rate));
  setText('blocks-mined', fmtNum(s.blocks_mined) + ' blocks mined here');
  setText('sync-progress', s.sync.synced ? 'synced' : (s.sync.progress * 100).toFixed(1) + ' %');
  setText('total-work', 'total work ' + fmtBig(s.tip.total_work) + ' hashes');
  $('mining-toggle').checked = s.mining;
  setText('mining-state', s.mining ? 'on' : 'off');
  const miner = s.miner;
  const n = nameOf(miner);
  setText('miner-address', n ? n + ' (' + short(miner, 14) + ')' : short(miner, 18));
  const [blocks, peers] = await Promise.all([api('/api/blocks'), api('/api/peers')]);
  $('dash-blocks').replaceChildren(...blocks.slice(0, 10).map(blockRow));
  $('peers-table').replaceChildren(...(peers.length ? peers.map((p) =>
    el('tr', {}, el('td', { class: 'mono' }, p.id), el('td', {}, fmtNum(p.height)), el('td', {}, ago(p.since)))) :
    [el('tr', {}, el('td', { colspan: 3, class: 'muted' }, 'no peers'))]));
}
function blockRow(b) {
  return el('tr', { 'data-height': b.height },
    el('td', {}, link('#/block/' + b.id, fmtNum(b.height), { 'data-testid': 'block-height-link' })),
    el('td', {}, blockLink(b.id)),
    el('td', {}, fmtTime(b.time)),
    el('td', {}, b.tx_count),
    el('td', {}, b.miner ? who(b.miner) : 'genesis'));
}

const eventLog = [];
function logEvent(kind, text) {
  eventLog.unshift([kind, text, new Date()]);
  eventLog.length = Math.min(eventLog.length, 30);
  $('event-log').replaceChildren(...eventLog.map(([k, t, d]) =>
    el('li', {}, el('span', { class: 'kind' }, k), d.toLocaleTimeString() + ' ' + t)));
}

// ---- Wallet. ----
async function renderWallet() {
  const list = $('wallet-list');
  if (!state.wallet && state.wallets.length) state.wallet = state.wallets[0].name;
  list.replaceChildren(...state.wallets.map((w) => {
    const li = el('li', { class: w.name === state.wallet ? 'selected' : '', 'data-wallet': w.name, 'data-testid': 'wallet-item' },
      el('span', { class: 'name' }, w.name),
      el('span', { class: 'muted' }, w.account ? w.account.confirmed.balance_coins : '?'));
    li.addEventListener('click', () => selectWallet(w.name));
    return li;
  }));
  if (!state.wallets.length) list.replaceChildren(el('li', { class: 'muted' }, 'none yet'));
  $('names-list').replaceChildren(...state.names.map((n) =>
    el('li', { 'data-testid': 'name-item' }, el('span', { class: 'name', 'data-testid': 'name-text' }, n.name), addrLink(n.address, short(n.address, 16)))));
  if (!state.names.length) $('names-list').replaceChildren(el('li', { class: 'muted' }, 'no names yet'));

  const w = state.wallets.find((x) => x.name === state.wallet);
  $('wallet-none').hidden = !!w;
  $('wallet-detail').hidden = !w;
  if (!w) return;
  setText('wallet-name', w.name);
  const lock = $('wallet-lock-state');
  lock.textContent = w.unlocked ? 'unlocked until ' + new Date(w.unlocked_until / 1e6).toLocaleTimeString() : 'locked';
  lock.className = 'badge ' + (w.unlocked ? 'unlocked' : 'locked');
  $('unlock-form').hidden = w.unlocked;
  $('lock-button').hidden = !w.unlocked;
  if (!w.address) {
    setText('wallet-balance', '?');
    setText('wallet-available', 'unlock once to learn the address');
    $('wallet-activity').replaceChildren();
    return;
  }
  const acct = w.account;
  setText('wallet-balance', acct.confirmed.balance_coins);
  setText('wallet-available', acct.pending.tx_count ? '(' + acct.available_coins + ' after ' + acct.pending.tx_count + ' pending)' : '');
  const a = $('wallet-address');
  a.textContent = w.address;
  a.setAttribute('href', '#/address/' + w.address);
  const hist = await api('/api/address/' + encodeURIComponent(w.address) + '/txs?limit=25').catch((e) => ({ pending: [], txs: [], error: e }));
  $('wallet-activity').replaceChildren(...historyRows(w.address, hist, 'activity'));
}
function selectWallet(name) {
  state.wallet = name;
  sessionStorage.setItem(WALLET_KEY, name);
  showError('send-error', null);
  showError('unlock-error', null);
  setText('send-result', '');
  refreshSoon();
}
// historyRows renders an address's pending and confirmed transactions.
function historyRows(addr, hist, prefix) {
  const rows = [];
  const txs = (hist.pending || []).concat(hist.txs || []);
  for (const tx of txs) {
    const out = tx.from_address === addr;
    const into = tx.to === addr;
    let what;
    if (tx.coinbase) what = el('span', {}, 'mined (block reward)');
    else if (out && into) what = el('span', {}, 'to itself');
    else if (out) what = el('span', {}, 'to ', who(tx.to));
    else what = el('span', {}, 'from ', who(tx.from_address));
    const st = tx.status || {};
    const status = st.confirmed ?
      el('span', { class: 'status-confirmed', 'data-testid': 'tx-status', 'data-status': 'confirmed' }, 'confirmed · ' + st.confirmations) :
      el('span', { class: 'status-pending', 'data-testid': 'tx-status', 'data-status': 'pending' }, 'pending');
    const sign = out && !into ? '−' : '+';
    const amount = out && !into ? tx.amount + tx.fee : tx.amount;
    const coins = out && !into ? addCoins(tx.amount_coins, tx.fee_coins) : tx.amount_coins;
    const key = prefix + tx.txid + (st.confirmed ? 'c' : 'p');
    const fresh = state.seen.size > 0 && !state.seen.has(key);
    state.seen.add(key);
    rows.push(el('tr', { 'data-txid': tx.txid, class: fresh ? 'new' : '', 'data-testid': 'history-row', title: fmtNum(amount) + ' base units' },
      el('td', {}, status), el('td', {}, what), el('td', { class: 'mono' }, sign + coins), el('td', {}, txLink(tx.txid))));
  }
  if (hist.error) rows.push(el('tr', {}, el('td', { colspan: 4, class: 'error' }, hist.error.code + ': ' + hist.error.message)));
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'no transactions yet')));
  return rows;
}
// addCoins adds two coin strings exactly (as integers of base units).
function addCoins(a, b) {
  const units = (s) => { const [w, f] = s.split('.'); return BigInt(w) * 100000000n + BigInt(((f || '') + '00000000').slice(0, 8)); };
  const v = units(a) + units(b);
  const w = v / 100000000n, f = (v % 100000000n).toString().padStart(8, '0').replace(/0+$/, '');
  return f ? w + '.' + f : w.toString();
}

async function createWallet(ev) {
  ev.preventDefault();
  showError('create-error', null);
  try {
    const w = await api('/api/wallets', { auth: true, body: { name: $('create-name').value.trim(), passphrase: $('create-pass').value } });
    $('create-name').value = '';
    $('create-pass').value = '';
    selectWallet(w.name);
    location.hash = '#/wallet';
  } catch (err) { showError('create-error', err); }
}
async function unlockWallet(ev) {
  ev.preventDefault();
  showError('unlock-error', null);
  try {
    await api('/api/wallets/' + encodeURIComponent(state.wallet) + '/unlock', { auth: true, body: { passphrase: $('unlock-pass').value } });
    $('unlock-pass').value = '';
    refreshSoon();
  } catch (err) { showError('unlock-error', err); }
}
async function lockWallet() {
  try {
    await api('/api/wallets/' + encodeURIComponent(state.wallet) + '/lock', { auth: true, body: {} });
    refreshSoon();
  } catch (err) { showError('unlock-error', err); }
}
async function mineToWallet() {
  showError('unlock-error', null);
  try {
    await api('/api/mining', { auth: true, body: { on: true, to: state.wallet } });
    refreshSoon();
  } catch (err) { showError('unlock-error', err); }
}
async function sendPayment(ev) {
  ev.preventDefault();
  showError('send-error', null);
  setText('send-result', '');
  const body = { to: $('send-to').value.trim(), amount_coins: $('send-amount').value.trim() };
  const fee = $('send-fee').value.trim();
  if (fee) body.fee_coins = fee;
  try {
    const tx = await api('/api/wallets/' + encodeURIComponent(state.wallet) + '/send', { auth: true, body });
    $('send-result').replaceChildren('Sent ', tx.amount_coins, ' coins to ', body.to, ': ', txLink(tx.txid), ' (pending)');
    $('send-amount').value = '';
    refreshSoon();
  } catch (err) { showError('send-error', err); }
}
async function addName(ev) {
  ev.preventDefault();
  showError('name-error', null);
  try {
    await api('/api/names', { auth: true, body: { name: $('name-name').value, address: $('name-address').value.trim() } });
    $('name-name').value = '';
    $('name-address').value = '';
    refreshSoon();
  } catch (err) { showError('name-error', err); }
}
async function toggleMining() {
  const on = $('mining-toggle').checked;
  try {
    await api('/api/mining', { auth: true, body: { on } });
  } catch (err) {
    $('mining-toggle').checked = !on;
    $('notice').hidden = false;
    $('notice').textContent = err.code + ': ' + err.message;
  }
  refreshSoon();
}

// ---- Explorer. ----
function showPanel(id) {
  for (const p of ['explorer-blocks', 'block-view', 'tx-view', 'address-view']) $(p).hidden = p !== id;
  showError('explorer-error', null);
}
async function renderBlocks() {
  showPanel('explorer-blocks');
  const q = state.blocksStart === null ? '' : '?start_height=' + state.blocksStart;
  const blocks = await api('/api/blocks' + q);
  $('blocks-table').replaceChildren(...blocks.map((b) => el('tr', { 'data-height': b.height },
    el('td', {}, link('#/block/' + b.id, fmtNum(b.height), { 'data-testid': 'block-height-link' })),
    el('td', {}, blockLink(b.id)), el('td', {}, fmtTime(b.time)), el('td', {}, b.tx_count),
    el('td', {}, fmtNum(b.size) + ' B'), el('td', {}, b.miner ? who(b.miner) : 'genesis'))));
  const tip = state.status.tip.height;
  $('blocks-newer').disabled = state.blocksStart === null || state.blocksStart >= tip;
  $('blocks-older').disabled = !blocks.length || blocks[blocks.length - 1].height === 0;
  $('blocks-older').onclick = () => { state.blocksStart = blocks[blocks.length - 1].height - 1; refreshSoon(); };
  $('blocks-newer').onclick = () => {
    const s = (state.blocksStart === null ? tip : state.blocksStart) + 25;
    state.blocksStart = s >= tip ? null : s;
    refreshSoon();
  };
}
function kv(box, pairs) {
  $(box).replaceChildren(...pairs.flatMap(([k, v, id]) => [el('div', {}, k), el('div', id ? { id, 'data-testid': id } : {}, v)]));
}
async function renderBlockHeight(h) {
  const b = await api('/api/block-height/' + encodeURIComponent(h)).catch((e) => e);
  if (b instanceof Error) { showPanel(''); showError('explorer-error', b); return; }
  location.replace('#/block/' + b.id);
}
async function renderBlock(hash) {
  let b, txs;
  try {
    [b, txs] = await Promise.all([api('/api/block/' + encodeURIComponent(hash)), api('/api/block/' + encodeURIComponent(hash) + '/txs')]);
  } catch (err) { showPanel(''); showError('explorer-error', err); return; }
  showPanel('block-view');
  setText('block-height', fmtNum(b.height));
  kv('block-fields', [
    ['Hash', el('span', { class: 'hash' }, b.id), 'block-hash'],
    ['Status', b.in_best_chain ? el('span', { class: 'status-confirmed' }, 'main chain · ' + b.confirmations + ' confirmations') :
      el('span', { class: 'status-pending' }, 'side branch (not on the main chain)')],
    ['Time', new Date(b.time / 1e6).toLocaleString()],
    ['Previous', b.height > 0 ? blockLink(b.previousblockhash, b.previousblockhash) : 'none (genesis)'],
    ['Next', b.nextblockhash ? blockLink(b.nextblockhash, b.nextblockhash) : 'none yet'],
    ['Merkle root', el('span', { class: 'hash' }, b.merkle_root)],
    ['Target', b.zero_bits + ' leading zero bits (bits 0x' + b.bits.toString(16) + '), about ' + fmtNum(Math.round(b.difficulty)) + ' hashes'],
    ['Nonce', fmtNum(b.nonce)],
    ['Miner', b.miner ? who(b.miner) : 'none'],
    ['Reward + fees', b.reward_coins + ' coins (fees ' + b.fees_coins + ')'],
    ['Size', fmtNum(b.size) + ' bytes, ' + b.tx_count + ' transactions'],
  ]);
  $('block-txs').replaceChildren(...txs.map((tx) => el('tr', { 'data-txid': tx.txid },
    el('td', {}, tx.status.index), el('td', {}, txLink(tx.txid)),
    el('td', {}, tx.coinbase ? (b.height === 0 ? 'genesis allocation' : 'coinbase') : who(tx.from_address)),
    el('td', {}, who(tx.to)), el('td', { class: 'mono' }, tx.amount_coins))));
}
async function renderTx(id, navigated) {
  let tx;
  try { tx = await api('/api/tx/' + encodeURIComponent(id)); } catch (err) { showPanel(''); showError('explorer-error', err); return; }
  showPanel('tx-view');
  const st = tx.status;
  kv('tx-fields', [
    ['ID', el('span', { class: 'hash' }, tx.txid), 'tx-id'],
    ['Status', st.confirmed ? el('span', { class: 'status-confirmed', 'data-status': 'confirmed' }, 'confirmed') :
      el('span', { class: 'status-pending', 'data-status': 'pending' }, 'pending in the mempool'), 'tx-status'],
    ['Confirmations', String(st.confirmations || 0), 'tx-confirmations'],
    ['Block', st.confirmed ? el('span', {}, blockLink(st.block_hash, st.block_hash), ' at height ' + fmtNum(st.block_height) + ', position ' + st.index) : '–'],
    ['From', tx.coinbase ? 'new coins (coinbase)' : who(tx.from_address), 'tx-from'],
    ['To', who(tx.to), 'tx-to'],
    ['Amount', tx.amount_coins + ' coins (' + fmtNum(tx.amount) + ' base units)'],
    ['Fee', tx.fee_coins + ' coins'],
    ['Nonce', String(tx.nonce)],
    ['Encoding', el('span', { class: 'hash' }, tx.hex)],
  ]);
  const steps = $('merkle-steps');
  const badge = $('merkle-status');
  if (!tx.merkle_proof) {
    steps.replaceChildren();
    badge.className = 'badge';
    badge.textContent = 'no proof yet: the transaction is not confirmed';
    badge.dataset.verified = 'none';
    return;
  }
  if (!navigated && badge.dataset.txid === tx.txid && badge.dataset.root === tx.merkle_proof.merkle_root) return;
  await showProof(tx.merkle_proof);
}

// ---- Merkle proofs, checked here with Web Crypto. ----
function hexToBytes(h) {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
  return out;
}
function bytesToHex(b) { return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''); }
async function sha256(...parts) {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(len);
  let o = 0;
  for (const p of parts) { buf.set(p, o); o += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}
// verifyMerkleProof follows the proof from the leaf to the root: RFC 9162's
// tree, leaves SHA-256(0x00‖leaf), nodes SHA-256(0x01‖left‖right), a node
// without a sibling carried up. It returns the steps and whether the root
// matches.
async function verifyMerkleProof(p) {
  const steps = [];
  if (p.size < 1 || p.index >= p.size) return { ok: false, steps: ['index outside the tree'] };
  let h = await sha256(Uint8Array.of(0), hexToBytes(p.leaf));
  steps.push('leaf: SHA-256(0x00 ‖ ' + short(p.leaf, 16) + ') = ' + short(bytesToHex(h), 16));
  const path = p.path.slice();
  for (let i = p.index, n = p.size; n > 1; i = Math.floor(i / 2), n = Math.floor((n + 1) / 2)) {
    if (i % 2 === 1) {
      if (!path.length) return { ok: false, steps: steps.concat('the path is too short') };
      const sib = path.shift();
      h = await sha256(Uint8Array.of(1), hexToBytes(sib), h);
      steps.push('SHA-256(0x01 ‖ ' + short(sib, 16) + ' ‖ ours) = ' + short(bytesToHex(h), 16));
    } else if (i + 1 < n) {
      if (!path.length) return { ok: false, steps: steps.concat('the path is too short') };
      const sib = path.shift();
      h = await sha256(Uint8Array.of(1), h, hexToBytes(sib));
      steps.push('SHA-256(0x01 ‖ ours ‖ ' + short(sib, 16) + ') = ' + short(bytesToHex(h), 16));
    } else {
      steps.push('no sibling at this level: carried up');
    }
  }
  const root = bytesToHex(h);
  const ok = path.length === 0 && root === p.merkle_root;
  steps.push('root ' + short(root, 16) + (ok ? ' = ' : ' ≠ ') + 'the block header\'s Merkle root ' + short(p.merkle_root, 16));
  return { ok, steps, root };
}
async function showProof(p) {
  const badge = $('merkle-status');
  badge.dataset.txid = p.leaf;
  badge.dataset.root = p.merkle_root;
  if (!window.crypto || !crypto.subtle) {
    badge.className = 'badge';
    badge.textContent = 'cannot check here: Web Crypto needs a secure context (open the page at 127.0.0.1 or localhost)';
    badge.dataset.verified = 'unavailable';
    return;
  }
  const r = await verifyMerkleProof(p);
  $('merkle-steps').replaceChildren(...r.steps.map((s) => el('li', {}, s)));
  badge.className = 'badge ' + (r.ok ? 'good' : 'bad');
  badge.dataset.verified = r.ok ? 'true' : 'false';
  badge.textContent = r.ok ?
    '✓ verified in this page: transaction ' + p.index + ' of ' + p.size + ' is in block ' + short(p.block_hash, 16) :
    '✗ the proof does not match the block header';
}

async function renderAddress(addr, navigated) {
  if (navigated) state.historySkip = 0;
  let info;
  try { info = await api('/api/address/' + encodeURIComponent(addr)); } catch (err) { showPanel(''); showError('explorer-error', err); return; }
  showPanel('address-view');
  kv('address-fields', [
    ['Address', el('span', { class: 'addr' }, info.address), 'address-text'],
    ['Name', info.name || info.wallet || '–', 'address-name'],
    ['Balance', info.confirmed.balance_coins + ' coins', 'address-balance'],
    ['Pending', info.pending.tx_count ? info.pending.tx_count + ' transactions: in ' + info.pending.received_coins + ', out ' + info.pending.sent_coins : 'none'],
    ['Transactions', info.confirmed.tx_count === undefined ? 'not indexed' : fmtNum(info.confirmed.tx_count) + ' confirmed', 'address-txcount'],
    ['Next nonce', String(info.next_nonce)],
  ]);
  showError('address-error', null);
  let hist;
  try {
    hist = await api('/api/address/' + encodeURIComponent(addr) + '/txs?skip=' + state.historySkip);
  } catch (err) { hist = { pending: [], txs: [] }; showError('address-error', err); }
  $('address-history').replaceChildren(...historyRows(info.address, hist, 'addr'));
  const more = $('history-more');
  more.hidden = hist.next_skip === undefined && state.historySkip === 0;
  more.textContent = hist.next_skip === undefined ? 'Newest' : 'Older';
  more.onclick = () => { state.historySkip = hist.next_skip === undefined ? 0 : hist.next_skip; refreshSoon(); };
}

async function search(ev) {
  ev.preventDefault();
  const q = $('search-input').value.trim();
  if (!q) return;
  try {
    const r = await api('/api/search?q=' + encodeURIComponent(q));
    location.hash = '#/' + r.kind + '/' + encodeURIComponent(r.id);
  } catch (err) {
    location.hash = '#/explorer';
    setTimeout(() => showError('explorer-error', err), 200);
  }
}

// ---- Charts, drawn as SVG. ----
const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
function fmtAxis(v) {
  if (v >= 1e9) return (v / 1e9).toFixed(1) + 'G';
  if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}
// chart draws values (null for unknown) against block heights as bars or a
// line, with an optional dashed reference line.
function chart(id, heights, values, opts) {
  const box = $(id);
  const W = 600, H = 220, L = 52, R = 12, T = 12, B = 28;
  box.replaceChildren();
  const known = values.filter((v) => v !== null && v !== undefined);
  if (!known.length) {
    box.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, opts.empty || 'no data yet'));
    return;
  }
  // A bar chart with a reference (block intervals) keeps its scale near
  // the reference: one very long gap (a test chain's genesis is old) is
  // drawn cut, with its value written on it, instead of flattening the rest.
  let highest = Math.max(...known, opts.ref || 0);
  if (opts.bars && opts.ref) {
    const sorted = known.slice().sort((p, q) => p - q);
    const p90 = sorted[Math.floor(0.9 * (sorted.length - 1))];
    highest = Math.min(highest, Math.max(4 * opts.ref, 1.5 * p90));
  }
  const top = niceMax(highest * 1.05);
  const x = (i) => L + (values.length === 1 ? (W - L - R) / 2 : i * (W - L - R) / (values.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  for (let k = 0; k <= 4; k++) {
    const v = top * k / 4;
    box.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
    box.append(svg('text', { x: L - 6, y: y(v) + 3, 'text-anchor': 'end', class: 'tick' }, fmtAxis(v)));
  }
  box.append(svg('line', { x1: L, x2: L, y1: T, y2: H - B, class: 'axis' }));
  box.append(svg('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, class: 'axis' }));
  const every = Math.max(1, Math.ceil(heights.length / 8));
  heights.forEach((h, i) => {
    if (i % every === 0 || i === heights.length - 1) box.append(svg('text', { x: x(i), y: H - B + 14, 'text-anchor': 'middle', class: 'tick' }, h));
  });
  if (opts.bars) {
    const bw = Math.max(2, (W - L - R) / values.length * 0.7);
    values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const shown = Math.min(v, top);
      const r = svg('rect', { x: x(i) - bw / 2, y: y(shown), width: bw, height: Math.max(0.5, H - B - y(shown)), class: 'bar' + (opts.ref && v > 2 * opts.ref ? ' slow' : '') });
      r.append(svg('title', {}, 'block ' + heights[i] + ': ' + fmtAxis(v) + (opts.unit || '')));
      box.append(r);
      if (v > top) box.append(svg('text', { x: x(i), y: T + 10, 'text-anchor': 'middle', class: 'clip' }, '↑ ' + fmtAxis(v) + (opts.unit || '')));
    });
  } else {
    let d = '';
    values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += (d ? ' L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
      const c = svg('circle', { cx: x(i), cy: y(v), r: 2.5, class: 'dot' });
      c.append(svg('title', {}, 'block ' + heights[i] + ': ' + fmtAxis(v) + (opts.unit || '')));
      box.append(c);
    });
    box.prepend(svg('path', { d, class: 'line' }));
  }
  if (opts.ref) box.append(svg('line', { x1: L, x2: W - R, y1: y(opts.ref), y2: y(opts.ref), class: 'target' }));
}
async function renderCharts() {
  const c = await api('/api/charts?blocks=60');
  const hs = c.blocks.map((b) => b.height);
  setText('chart-count', c.blocks.length);
  chart('chart-intervals', hs, c.blocks.map((b) => b.interval_ms === null ? null : b.interval_ms / 1000),
    { bars: true, ref: c.target_block_time_ms / 1000, unit: ' s', empty: 'no blocks after genesis yet' });
  chart('chart-difficulty', hs, c.blocks.map((b) => b.difficulty), { unit: ' hashes' });
  chart('chart-hashrate', hs, c.blocks.map((b) => b.hash_rate), { unit: ' H/s', empty: 'no block has arrived since the page\'s server started' });
}

// ---- Live updates. ----
let source = null;
function connectEvents() {
  source = new EventSource('/api/events');
  const live = $('live');
  source.onopen = () => { live.textContent = 'live'; live.className = 'live on'; refreshSoon(); };
  source.onerror = () => { live.textContent = 'reconnecting'; live.className = 'live off'; };
  const on = (name, fn) => source.addEventListener(name, (e) => {
    let d = {};
    try { d = JSON.parse(e.data); } catch (err) { /* keep {} */ }
    fn(d);
    refreshSoon();
  });
  on('tip', (d) => logEvent(d.reorg ? 'reorg tip' : 'new tip', 'height ' + d.tip.height + ' ' + short(d.tip.hash)));
  on('reorg', (d) => logEvent('reorg', d.disconnected.length + ' blocks left the main chain at height ' + d.fork_height));
  on('confirmed', (d) => { if (d.txs.length > 1) logEvent('confirmed', (d.txs.length - 1) + (d.txs.length === 2 ? ' payment' : ' payments') + ' in block ' + d.height); });
  on('tx', (d) => logEvent('transaction', d.amount_coins + ' coins to ' + (nameOf(d.to) || short(d.to, 14))));
  on('peer-connected', (d) => logEvent('peer joined', d.id));
  on('peer-disconnected', (d) => logEvent('peer left', d.id));
  on('mining', (d) => logEvent('mining', d.mining ? 'on' : 'off'));
  on('wallets', (d) => logEvent('wallet', d.wallet || ''));
  on('names', (d) => logEvent('address book', d.name || ''));
  on('reset', () => logEvent('reset', 'missed events: reloading'));
}

// ---- Start. ----
function start() {
  if (!token) {
    $('readonly-banner').hidden = false;
    document.body.classList.add('readonly');
    for (const e of document.querySelectorAll('.needs-token')) e.disabled = true;
  }
  $('search-form').addEventListener('submit', search);
  $('create-form').addEventListener('submit', createWallet);
  $('unlock-form').addEventListener('submit', unlockWallet);
  $('lock-button').addEventListener('click', lockWallet);
  $('mine-to-wallet').addEventListener('click', mineToWallet);
  $('send-form').addEventListener('submit', sendPayment);
  $('name-form').addEventListener('submit', addName);
  $('mining-toggle').addEventListener('change', toggleMining);
  window.addEventListener('hashchange', showView);
  showView();
  connectEvents();
}
start();
