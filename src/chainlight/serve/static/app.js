/* chainlight web page: chain map, enterprise page, search. Plain JS over the HTTP API; charts by ECharts.
   Every text from the data (names, report spans) is escaped before it reaches the page. */
"use strict";

const KEY_STORE = "chainlight.apiKey";
const SIGNALS = {
  invoice_item: "发票品目 Invoice item", product: "产品 Product", patent: "专利 Patent",
  customers: "客户所在环节 Customers' segments", scope: "经营范围 Registered scope", industry_code: "行业代码 Industry code",
  name: "企业名称 Name", report: "研报 Report",
};
const DECISIONS = { approve: "通过 Approve", decline: "拒绝 Decline", refer: "转人工 Refer" };
const state = { charts: [], route: 0 };
window.chainlight = state; // for tests and debugging: the live charts

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function yuan(value) {
  if (value === null || value === undefined) return "–";
  if (Math.abs(value) >= 1e8) return (value / 1e8).toFixed(2) + " 亿";
  if (Math.abs(value) >= 1e4) return (value / 1e4).toFixed(1) + " 万";
  return Number(value).toFixed(0);
}
function pct(value) { return value === null || value === undefined ? "–" : (100 * value).toFixed(1) + "%"; }
function main() { return document.getElementById("main"); }

class Stale extends Error {}

async function api(path, options = {}) {
  const route = state.route;
  const key = sessionStorage.getItem(KEY_STORE) || "";
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  if (key) headers.Authorization = "Bearer " + key;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => ({}));
  if (route !== state.route && !options.method) throw new Stale(); // the reader went elsewhere meanwhile
  if (!response.ok) {
    const error = new Error(body.detail || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function showError(error) {
  const hint = error.status === 401 ? "（请在右上角输入 API 密钥 Enter an API key at the top right）" : "";
  main().innerHTML = `<p class="error" data-testid="error">${esc(error.message)} ${hint}</p>`;
}

function disposeCharts() {
  state.charts.forEach((c) => c.dispose());
  state.charts = [];
}

function chart(element) {
  const c = echarts.init(element);
  state.charts.push(c);
  return c;
}

/* ---------- chain map ---------- */
async function showChains(chainId) {
  const chains = await api("/v1/chains");
  if (!chains.length) {
    main().innerHTML = `<p class="muted">此工作区还没有产业链 No chains in this workspace yet.</p>`;
    return;
  }
  const current = chainId || chains[0].chain_id;
  main().innerHTML = `
    <h1>产业链地图 Chain map</h1>
    <div class="chips" id="chain-chips">${chains.map((c) =>
      `<button data-chain="${esc(c.chain_id)}" class="${c.chain_id === current ? "on" : ""}">${esc(c.name)} ${esc(c.chain_id)}
        <span class="muted">${c.firms}</span></button>`).join("")}</div>
    <div class="grid">
      <section class="card"><h2 id="chain-title"></h2>
        <p class="muted">节点大小 = 企业数，连线粗细 = 发票金额；点击环节查看企业。
          Node size = firms, line width = invoiced money; click a segment to list its firms.</p>
        <div id="chain-chart" class="chart" data-testid="chain-chart"></div></section>
      <section class="card"><h2 id="segment-title">环节企业 Firms in a segment</h2>
        <div id="segment-firms" data-testid="segment-firms"><p class="muted">点击左侧环节 Click a segment.</p></div></section>
    </div>`;
  document.querySelectorAll("#chain-chips button").forEach((b) =>
    b.addEventListener("click", () => { location.hash = "#/chains/" + encodeURIComponent(b.dataset.chain); }));
  const detail = await api("/v1/chains/" + encodeURIComponent(current));
  document.getElementById("chain-title").textContent = `${detail.name} ${detail.chain_id}`;
  drawChain(detail);
}

function drawChain(detail) {
  const tiers = {};
  detail.segments.forEach((s) => { (tiers[s.tier_rank] = tiers[s.tier_rank] || []).push(s); });
  const maxFirms = Math.max(1, ...detail.segments.map((s) => s.firms));
  const nodes = [];
  Object.keys(tiers).sort((a, b) => a - b).forEach((rank) => {
    tiers[rank].forEach((s, i) => nodes.push({
      id: s.segment_id, name: s.name, x: Number(rank) * 220, y: (i - (tiers[rank].length - 1) / 2) * 140,
      symbolSize: 18 + 42 * Math.sqrt(s.firms / maxFirms), value: s.firms,
      itemStyle: s.anchors ? { color: "#d9822b" } : undefined,
      tooltip: { formatter: `${esc(s.name)}<br>${esc(s.tier)} · 企业 firms ${s.firms} · 销售 sales ${yuan(s.sales)}` },
    }));
  });
  const own = new Set(nodes.map((n) => n.id));
  const maxFlow = Math.max(1, ...detail.flows.filter((f) => own.has(f.source) && own.has(f.target)).map((f) => f.amount));
  const links = detail.flows.filter((f) => own.has(f.source) && own.has(f.target)).map((f) => ({
    source: f.source, target: f.target, value: f.amount,
    lineStyle: { width: 1 + 9 * Math.sqrt(f.amount / maxFlow), type: f.ontology ? "solid" : "dashed", opacity: 0.7 },
    tooltip: { formatter: `${yuan(f.amount)} 元 yuan · ${f.edges} 对供销 supplier–buyer pairs` },
  }));
  const flowPairs = new Set(links.map((l) => l.source + ">" + l.target));
  detail.ontology_edges.filter((e) => own.has(e.source) && own.has(e.target) && !flowPairs.has(e.source + ">" + e.target))
    .forEach((e) => links.push({ source: e.source, target: e.target, lineStyle: { width: 1, type: "dotted", opacity: 0.4 } }));
  const c = chart(document.getElementById("chain-chart"));
  c.setOption({
    tooltip: {},
    series: [{
      type: "graph", layout: "none", roam: true, data: nodes, links,
      edgeSymbol: ["none", "arrow"], edgeSymbolSize: 8,
      label: { show: true, position: "bottom", formatter: (p) => `${p.data.name} (${p.data.value})` },
      lineStyle: { color: "#7a8ca3", curveness: 0.15 },
    }],
  });
  c.on("click", (params) => { if (params.dataType === "node") showSegment(params.data.id); });
  state.chainChart = c;
}

async function showSegment(segmentId) {
  const box = document.getElementById("segment-firms");
  box.innerHTML = `<p class="muted">加载中… Loading…</p>`;
  try {
    const seg = await api(`/v1/segments/${encodeURIComponent(segmentId)}/firms?limit=100`);
    document.getElementById("segment-title").textContent = `${seg.name} ${seg.segment_id} · ${seg.total} 家 firms`;
    box.innerHTML = seg.firms.length ? `<table><thead><tr><th>企业 Firm</th><th>城市 City</th><th class="num">销售 Sales</th>
      <th class="num">距核心企业 Hops to anchor</th></tr></thead><tbody>${seg.firms.map((f) => `
      <tr data-testid="segment-firm"><td><a href="#/enterprise/${esc(f.uscc)}">${esc(f.name)}</a>
        ${f.is_anchor ? '<span class="tag">核心企业 anchor</span>' : ""}</td><td>${esc(f.city)}</td>
        <td class="num">${yuan(f.sales_total)}</td><td class="num">${f.hops_to_anchor ?? "–"}</td></tr>`).join("")}</tbody></table>`
      : `<p class="muted">此环节没有企业 No firms in this segment.</p>`;
  } catch (error) { if (!(error instanceof Stale)) box.innerHTML = `<p class="error">${esc(error.message)}</p>`; }
}

/* ---------- enterprise page ---------- */
async function showEnterprise(uscc) {
  const p = await api("/v1/enterprises/" + encodeURIComponent(uscc));
  const r = p.registry;
  const main_ = p.makes.find((m) => m.rank === 1);
  main().innerHTML = `
    <h1 data-testid="enterprise-name">${esc(r.name)} <span class="muted">${esc(r.uscc)}</span></h1>
    <div class="grid">
      <section class="card"><h2>实际主营 vs 登记信息 · What it makes vs what it registered</h2>
        <dl class="kv">
          <dt>实际主营 Really makes</dt><dd data-testid="makes">${main_ ? `<b>${esc(main_.segment_name)}</b> ${esc(main_.chain_name)} · ${esc(main_.tier)} · 置信度 confidence ${pct(main_.confidence)}` : "–"}</dd>
          <dt>登记口径 Registry view</dt><dd>${p.registered_as.length ? p.registered_as.map((s) => esc(s.segment_name || s.segment_id)).join("、") : "无法归入产业链 no chain segment"}</dd>
          <dt>经营范围 Registered scope</dt><dd>${esc(r.scope)}</dd>
          <dt>行业代码 Industry code</dt><dd>${esc(r.industry_code)}</dd>
          <dt>地区 Place</dt><dd>${esc(r.province)} ${esc(r.city)}</dd>
          <dt>成立 Founded</dt><dd>${esc(r.founded)}</dd>
          <dt>注册资本 Capital</dt><dd>${yuan(r.registered_capital)} 元</dd>
          <dt>高新技术企业 High-tech</dt><dd>${r.high_tech ? "是 yes" : "否 no"}</dd>
          <dt>产品 Products</dt><dd>${p.products.map((x) => esc(x.product_name)).join("、") || "–"}</dd>
        </dl>
        ${p.makes.map((m) => `<h2 style="margin-top:10px">证据 Evidence · ${esc(m.segment_name)}</h2>
          <table><tbody>${m.evidence.map((e) => `<tr><td>${esc(SIGNALS[e.signal] || e.signal)}</td><td>${esc(e.detail)}</td>
          <td class="muted">${esc(e.source_id)}</td></tr>`).join("")}</tbody></table>`).join("")}
      </section>
      <section class="card"><h2>到核心企业的路径 · Path to the anchors</h2>
        <div id="anchor-paths" data-testid="anchor-paths">${p.anchor_paths.length ? p.anchor_paths.map((path) => `
          <div class="path" data-testid="anchor-path" data-chain="${esc(path.anchor.chain_id)}">${path.names.map((n, i) =>
            `${i ? `<span class="arrow">→ ${yuan(path.amounts[i - 1])}</span>` : ""}${esc(n || path.firms[i])}`).join("")}
            <span class="tag">核心企业 anchor · ${esc(path.anchor.chain_id)} · ${path.hops} 跳 hops</span></div>`).join("")
          : `<p class="muted">没有通往核心企业的供货路径 No supply path reaches an anchor.</p>`}</div>
        <div id="path-chart" class="chart small"></div>
      </section>
      <section class="card"><h2>经营趋势 · Operating trend</h2>
        <div id="trend-chart" class="chart small" data-testid="trend-chart"></div>
        ${operatingHtml(p.operating)}
      </section>
      <section class="card"><h2>授信决策 · Credit decision</h2><div id="decision" data-testid="decision">${decisionHtml(p.latest_decision)}</div>
        <form id="decide-form"><input id="decide-amount" type="number" min="1" step="1" value="2000000">
          <button type="submit">申请授信 Decide</button> <span class="muted">需 decider 密钥 needs a decider key</span></form>
      </section>
      <section class="card"><h2>研报中的说法及核验 · Claims and verdicts</h2>${claimsHtml(p)}</section>
      <section class="card"><h2>供销关系 · Customers and suppliers</h2>${supplyHtml(p)}</section>
    </div>
    ${p.missing.length ? `<p class="muted">缺少 Missing: ${p.missing.map(esc).join("; ")}</p>` : ""}`;
  drawPaths(p);
  drawTrend(p);
  document.getElementById("decide-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const amount = Number(document.getElementById("decide-amount").value);
    const box = document.getElementById("decision");
    try {
      const d = await api("/v1/decisions", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ uscc: p.uscc, amount }) });
      box.innerHTML = decisionHtml(d);
    } catch (error) { box.innerHTML = `<p class="error">${esc(error.message)}</p>`; }
  });
}

const TREND = { up: "上行 up", flat: "平稳 flat", down: "下行 down" };
const VERDICT = { supported: "属实 supported", contradicted: "不符 contradicted", unverifiable: "无法核实 unverifiable" };
const CLAIM_KIND = { supplies: "供货 supplies", makes: "生产 makes", high_tech: "高新 high-tech", capacity: "产能 capacity",
  certification: "认证 certification", praise: "评价 praise", instruction: "指令文本 instruction" };

function operatingHtml(op) {
  if (!op) return `<p class="muted">月度开票销售额（正常与红字发票）Monthly invoiced sales.</p>`;
  const trend = op.segment_trend.length ? op.segment_trend[op.segment_trend.length - 1] : null;
  return `<p data-testid="operating-score">经营评分 Operating score <b>${op.score === null ? "–" : Number(op.score).toFixed(1)}</b> / 100
      <span class="muted">覆盖 coverage ${pct(op.coverage)}</span></p>
    <p data-testid="operating-text">${esc(op.text || "")}</p>
    ${op.reasons.length ? `<table><thead><tr><th>因素 Factor</th><th class="num">值 Value</th><th class="num">分 Points</th></tr></thead><tbody>
      ${op.reasons.map((r) => `<tr><td>${esc(r.code)}</td><td class="num">${esc(r.value)}</td>
        <td class="num"><span class="tag ${r.points < 0 ? "adverse" : "favourable"}">${Number(r.points).toFixed(1)}</span></td></tr>`).join("")}
      </tbody></table>` : ""}
    ${trend ? `<p>行业趋势 Segment trend ${esc(trend.period)}: <b>${esc(TREND[trend.direction] || trend.direction)}</b>
      ${trend.growth_pct === null ? "" : `${Number(trend.growth_pct).toFixed(1)}%`} · ${trend.reports} 份研报 reports
      ${trend.disagreement ? '<span class="tag refer">观点分歧 disagreement</span>' : ""}</p>
      <ul>${trend.citations.slice(0, 3).map((c) => `<li class="muted">“${esc(c.span_text)}” ${esc(c.report_id)}</li>`).join("")}</ul>` : ""}`;
}

function decisionHtml(d) {
  if (!d) return `<p class="muted">尚无决策 No decision yet.</p>`;
  return `<p><span class="tag ${esc(d.decision)}" data-testid="decision-outcome">${esc(DECISIONS[d.decision] || d.decision)}</span>
    额度 line <b>${yuan(d.amount)}</b> 元 / 申请 requested ${yuan(d.requested_amount)} ·
    违约概率 PD ${d.pd === null || d.pd === undefined ? "–" : pct(d.pd)} · 评分 score ${esc(d.score ?? "–")}</p>
    <ul data-testid="decision-reasons">${(d.reasons || []).map((x) => `<li><span class="tag ${esc(x.direction)}">${x.direction === "adverse" ? "不利 adverse" : "有利 favourable"}</span>
      ${esc(x.text_zh)} · ${esc(x.text_en)} <span class="muted">${esc(x.code)}</span></li>`).join("")}</ul>
    ${d.source === "batch" ? `<p class="muted">批量决策 batch decision · 申请 application ${esc(d.application_id)} · ${esc(d.decided_at)}</p>`
      : `<p class="muted">审计记录 audit entry #${esc(d.audit_entry_id)} · ${esc(d.decided_at)}</p>`}`;
}

function claimsHtml(p) {
  if (!p.claims.length) return `<p class="muted">没有关于该企业的模型说法 No model-made claims about this firm.</p>`;
  return `<table data-testid="claims"><thead><tr><th>类型 Kind</th><th>说法 Claim</th><th class="num">发票 Invoiced</th><th>核验 Verdict</th></tr></thead><tbody>${p.claims.map((c) => {
    const verdict = c.verdict || "未核验 not checked";
    const about = c.kind === "supplies" ? `${esc(c.subject_name || c.subject_uscc)} → ${esc(c.object_name || c.object)}`
      : esc(c.object_name || c.object || "");
    return `<tr data-testid="claim"><td>${esc(CLAIM_KIND[c.kind] || c.kind)}</td>
      <td>${esc(c.span_text)} <span class="muted">${about} · ${esc(c.source_id)}</span></td><td class="num">${yuan(c.invoiced_amount)}</td>
      <td><span class="tag ${esc(c.verdict || "")}">${esc(VERDICT[c.verdict] || verdict)}</span> <span class="muted">${esc(c.detail || "")}</span></td></tr>`;
  }).join("")}</tbody></table>`;
}

function supplyHtml(p) {
  if (!p.supply) return `<p class="muted">–</p>`;
  const names = Object.fromEntries(p.supply.nodes.map((n) => [n.uscc, n]));
  const row = (u, e, role) => `<tr><td>${role}</td><td><a href="#/enterprise/${esc(u)}">${esc(names[u] ? names[u].name : u)}</a>
    ${names[u] && names[u].is_anchor ? '<span class="tag">核心企业 anchor</span>' : ""}</td><td class="num">${yuan(e.amount)}</td><td class="num">${e.months_active ?? "–"}</td></tr>`;
  const rows = p.supply.edges.map((e) => e.seller_uscc === p.uscc ? row(e.buyer_uscc, e, "客户 customer") : row(e.seller_uscc, e, "供应商 supplier"));
  return `<table><thead><tr><th></th><th>企业 Firm</th><th class="num">金额 Amount</th><th class="num">月数 Months</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function drawPaths(p) {
  if (!p.anchor_paths.length) return;
  const nodes = {}, links = [];
  p.anchor_paths.forEach((path, row) => path.firms.forEach((u, i) => {
    if (!nodes[u]) nodes[u] = { id: u, name: path.names[i] || u, x: i * 220, y: row * 70,
      symbolSize: i === 0 ? 26 : 18, itemStyle: { color: i === 0 ? "#1f6feb" : i === path.firms.length - 1 ? "#d9822b" : "#7a8ca3" } };
    if (i) links.push({ source: path.firms[i - 1], target: u, value: path.amounts[i - 1] });
  }));
  chart(document.getElementById("path-chart")).setOption({
    tooltip: {},
    series: [{ type: "graph", layout: "none", data: Object.values(nodes), links, edgeSymbol: ["none", "arrow"],
      label: { show: true, position: "bottom", width: 180, overflow: "truncate" }, lineStyle: { width: 2 } }],
  });
}

function drawTrend(p) {
  const series = p.monthly_sales;
  chart(document.getElementById("trend-chart")).setOption({
    tooltip: { trigger: "axis" }, grid: { left: 70, right: 20, top: 20, bottom: 30 },
    xAxis: { type: "category", data: series.map((m) => m.month) },
    yAxis: { type: "value", name: "元 yuan", axisLabel: { formatter: (v) => yuan(v) } },
    series: [{ type: "line", name: "销售额 Sales", data: series.map((m) => m.amount), smooth: true, areaStyle: { opacity: 0.15 } }],
  });
}

/* ---------- search ---------- */
async function showSearch(q) {
  document.getElementById("search-input").value = q;
  const result = await api("/v1/enterprises?q=" + encodeURIComponent(q));
  main().innerHTML = `<h1>搜索 Search: ${esc(q)}</h1>${result.results.length ? `<table data-testid="search-results"><thead><tr>
    <th>企业 Firm</th><th>城市 City</th><th>主营环节 Main segment</th><th>匹配 Match</th></tr></thead><tbody>${result.results.map((h) => `
    <tr><td><a href="#/enterprise/${esc(h.uscc)}">${esc(h.name)}</a> <span class="muted">${esc(h.uscc)}</span></td><td>${esc(h.city)}</td>
    <td>${esc(h.segment_name || "–")}</td><td>${esc(h.method)} ${h.score ? h.score.toFixed(2) : ""}</td></tr>`).join("")}</tbody></table>`
    : `<p class="muted">没有找到 Nothing found.</p>`}`;
}

/* ---------- routing ---------- */
async function route() {
  state.route += 1;
  disposeCharts();
  const hash = location.hash || "#/chains";
  const [, page, arg] = hash.split("/");
  const value = decodeURIComponent((arg || "").split("?")[0]);
  try {
    if (page === "enterprise" && value) await showEnterprise(value);
    else if (page === "search") await showSearch(decodeURIComponent(hash.slice("#/search/".length)));
    else await showChains(value);
  } catch (error) { if (!(error instanceof Stale)) showError(error); }
}

document.getElementById("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = document.getElementById("search-input").value.trim();
  if (q) location.hash = "#/search/" + encodeURIComponent(q);
});
document.getElementById("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY_STORE, document.getElementById("key-input").value.trim());
  document.getElementById("key-input").value = "";
  route();
});
window.addEventListener("hashchange", route);
window.addEventListener("resize", () => state.charts.forEach((c) => c.resize()));
route();
