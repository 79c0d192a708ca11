// The inventory dashboard: Cognito sign-in (USER_PASSWORD_AUTH, then REFRESH_TOKEN_AUTH) by
// fetch, and the stack's HTTP API with the access token. No framework, no build step.
//
// Every value that comes from data (store and item names, sources, user names, error
// messages) is put in the page with textContent or setAttribute, never as HTML.
"use strict";

(() => {
  const SESSION_KEY = "inventory-dashboard-session";
  const SESSION_ENDED = "Your session has ended. Please sign in again.";
  const PAGE_SIZE = 100; // items per page: one API request each
  const REFRESH_MARGIN_MS = 60_000; // refresh the token this long before it expires
  const SEARCH_DELAY_MS = 300;
  const STATUS_LABELS = { out: "Out of stock", low: "Low", ok: "OK" };
  const STATUS_ORDER = { out: 0, low: 1, ok: 2 };
  const COLUMNS = ["store", "item", "count", "status", "runs_out_in_days", "updated_at", "source"];

  const $ = (id) => document.getElementById(id);
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
  const numberFormat = new Intl.NumberFormat();

  const state = {
    config: null,
    session: null, // { accessToken, refreshToken, expiresAt, username }
    items: [],
    total: null, // items in the listing (null: unknown, as with a search)
    summary: null,
    cursors: [null], // the cursor of each page seen so far; the current one is the last
    next: null,
    sort: { key: "store", direction: 1 },
    generation: 0, // bumps on every filter change and sign-out; stale answers are dropped
    inFlight: false,
    renewal: null,
    pollTimer: null,
    tokenTimer: null,
    searchTimer: null,
  };

  // ------------------------------------------------------------------ Cognito

  class AuthError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  async function cognito(action, body) {
    let response;
    try {
      response = await fetch(state.config.cognitoUrl, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-amz-json-1.1",
          "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
        },
        body: JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw new AuthError("Cannot reach the sign-in service. Check your connection.", "Network");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const code = String(data.__type || "").split("#").pop() || `HTTP${response.status}`;
      throw new AuthError(String(data.message || data.Message || "Sign-in failed."), code);
    }
    return data;
  }

  function claims(token) {
    // For display only: the API's authorizer is what checks the token.
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
    } catch {
      return {};
    }
  }

  function sessionFrom(result, previous) {
    return {
      accessToken: result.AccessToken,
      refreshToken: result.RefreshToken || previous.refreshToken,
      expiresAt: Date.now() + Number(result.ExpiresIn || 3600) * 1000,
      username: claims(result.AccessToken).username || previous.username || "",
    };
  }

  async function signIn(username, password) {
    const data = await cognito("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: state.config.clientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    if (!data.AuthenticationResult) {
      throw new AuthError(
        "This account must choose a new password first; ask an administrator to set one.",
        data.ChallengeName || "Challenge",
      );
    }
    setSession(sessionFrom(data.AuthenticationResult, { username }));
  }

  async function refreshToken() {
    const data = await cognito("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH",
      ClientId: state.config.clientId,
      AuthParameters: { REFRESH_TOKEN: state.session.refreshToken },
    });
    setSession(sessionFrom(data.AuthenticationResult, state.session));
  }

  function setSession(session) {
    state.session = session;
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    scheduleTokenRefresh();
  }

  function scheduleTokenRefresh() {
    clearTimeout(state.tokenTimer);
    if (!state.session) return;
    const wait = Math.max(state.session.expiresAt - Date.now() - REFRESH_MARGIN_MS, 1000);
    state.tokenTimer = setTimeout(async () => {
      try {
        await renew();
      } catch (error) {
        if (error.code === "Network" && state.session) {
          state.tokenTimer = setTimeout(scheduleTokenRefresh, 10_000);
        }
      }
    }, wait);
  }

  async function freshToken() {
    if (Date.now() > state.session.expiresAt - REFRESH_MARGIN_MS) await renew();
    return state.session.accessToken;
  }

  function renew() {
    // One renewal at a time: the timer and every request that finds the token near expiry (a
    // laptop waking up) wait for the same answer instead of each spending the refresh token.
    if (!state.renewal) {
      state.renewal = refreshToken()
        .catch((error) => {
          // A refused refresh token (expired, revoked) ends the session; a network failure
          // does not.
          if (error.code !== "Network") endSession(SESSION_ENDED);
          throw error;
        })
        .finally(() => {
          state.renewal = null;
        });
    }
    return state.renewal;
  }

  function restoreSession() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
      if (saved && saved.accessToken && saved.refreshToken) return saved;
    } catch {
      // a damaged entry is the same as none
    }
    return null;
  }

  async function signOut() {
    const token = state.session && state.session.refreshToken;
    endSession("");
    if (token) {
      // Revoke the refresh token so it cannot mint new access tokens; best effort.
      cognito("RevokeToken", { Token: token, ClientId: state.config.clientId }).catch(() => {});
    }
  }

  function endSession(message) {
    state.session = null;
    state.generation += 1;
    sessionStorage.removeItem(SESSION_KEY);
    clearTimeout(state.tokenTimer);
    clearInterval(state.pollTimer);
    state.items = [];
    state.summary = null;
    showSignIn(message);
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {}

  async function api(path, params) {
    const url = new URL(state.config.apiUrl.replace(/\/+$/, "") + path);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== "" && value !== null && value !== undefined) url.searchParams.set(name, value);
    }
    for (let attempt = 0; ; attempt += 1) {
      const token = await freshToken();
      let response;
      try {
        response = await fetch(url, {
          headers: { Authorization: `Bearer ${token}` },
          cache: "no-store",
          credentials: "omit",
        });
      } catch {
        throw new ApiError("the API cannot be reached");
      }
      if (response.status === 401 && attempt === 0) {
        await renew(); // the token may have expired early (a sleeping laptop): once more
        continue;
      }
      if (response.status === 401) {
        endSession(SESSION_ENDED);
        throw new ApiError("signed out");
      }
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new ApiError(String(data.message || `HTTP ${response.status}`));
      return data;
    }
  }

  function fetchPage(filters) {
    // The page on screen only: its cursor is the last of those seen on the way to it.
    const next = state.cursors[state.cursors.length - 1];
    return api("/items", { ...filters, limit: PAGE_SIZE, next });
  }

  async function refreshData() {
    if (!state.session || state.inFlight) return;
    state.inFlight = true;
    const generation = state.generation;
    const filters = currentFilters();
    try {
      const [summary, page] = await Promise.all([api("/summary"), fetchPage(filters)]);
      if (generation !== state.generation) return; // the filters or the page changed meanwhile
      state.summary = summary;
      state.items = page.items;
      state.total = page.total;
      state.next = page.next;
      $("last-fetched").textContent = `Last fetched ${timeFormat.format(new Date())}`;
      $("refresh-problem").hidden = true;
      render();
    } catch (error) {
      if (state.session && generation === state.generation) {
        const problem = $("refresh-problem");
        problem.textContent = `· Could not refresh (${error.message}); retrying`;
        problem.hidden = false;
      }
    } finally {
      state.inFlight = false;
      if (state.session && generation !== state.generation) refreshData();
    }
  }

  function startPolling() {
    clearInterval(state.pollTimer);
    const seconds = Math.max(Number(state.config.refreshSeconds) || 5, 2);
    state.pollTimer = setInterval(() => {
      if (!document.hidden) refreshData();
    }, seconds * 1000);
  }

  // ------------------------------------------------------------------ filters

  function currentFilters() {
    return {
      store: $("filter-store").value,
      status: $("filter-status").value,
      search: $("filter-search").value.trim(),
    };
  }

  function turnPage(step) {
    if (step > 0 && state.next) state.cursors.push(state.next);
    else if (step < 0 && state.cursors.length > 1) state.cursors.pop();
    else return;
    state.generation += 1;
    refreshData();
  }

  function filtersChanged() {
    const filters = currentFilters();
    const hash = new URLSearchParams(
      Object.entries(filters).filter(([, value]) => value !== ""),
    ).toString();
    history.replaceState(null, "", hash ? `#${hash}` : location.pathname + location.search);
    state.cursors = [null]; // new filters start at their first page
    state.generation += 1;
    refreshData();
  }

  function filtersFromHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const store = params.get("store") || "";
    if (store) ensureStoreOption(store);
    $("filter-store").value = store;
    const status = params.get("status") || "";
    $("filter-status").value = status in STATUS_LABELS ? status : "";
    $("filter-search").value = params.get("search") || "";
  }

  function ensureStoreOption(store) {
    const select = $("filter-store");
    if ([...select.options].some((option) => option.value === store)) return;
    select.append(new Option(store, store));
  }

  function renderStoreOptions(stores) {
    const select = $("filter-store");
    const chosen = select.value;
    const names = stores.map((entry) => entry.store);
    if (chosen && !names.includes(chosen)) names.push(chosen); // keep the filter, even if empty
    const options = [new Option("All stores", "")];
    for (const name of names.sort(collator.compare)) options.push(new Option(name, name));
    const same =
      select.options.length === options.length &&
      options.every((option, index) => select.options[index].value === option.value);
    if (!same) {
      select.replaceChildren(...options);
      select.value = chosen;
    }
  }

  // ------------------------------------------------------------------ rendering

  function render() {
    const summary = state.summary;
    const threshold = summary.low_stock_threshold;
    renderStoreOptions(summary.stores);
    const store = $("filter-store").value;
    const figures = store
      ? summary.stores.find((entry) => entry.store === store) || {
          items: 0,
          out_of_stock: 0,
          low_stock: 0,
        }
      : summary.totals;
    $("card-stores").textContent = numberFormat.format(store ? 1 : summary.totals.stores);
    $("card-items").textContent = numberFormat.format(figures.items);
    $("card-out").textContent = numberFormat.format(figures.out_of_stock);
    $("card-low").textContent = numberFormat.format(figures.low_stock);
    $("card-low-hint").textContent = `(≤ ${threshold})`;
    $("threshold-note").textContent =
      `Low stock means ${threshold} or fewer left; 0 is out of stock.` +
      (summary.totals.last_updated
        ? ` Latest upload loaded ${formatTime(summary.totals.last_updated)}.`
        : "");
    renderTable();
  }

  function renderTable() {
    const rows = [...state.items].sort(compareBy(state.sort.key, state.sort.direction));
    const body = $("items-body");
    body.replaceChildren(...rows.map(row));
    for (const th of document.querySelectorAll("th[data-sort]")) {
      const active = th.dataset.sort === state.sort.key;
      if (active) th.setAttribute("aria-sort", state.sort.direction > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
    const tableEmpty = state.summary.totals.items === 0;
    $("empty").hidden = !tableEmpty;
    $("upload-hint").textContent = uploadCommand();
    $("no-match").hidden = tableEmpty || rows.length > 0;
    $("items-table").hidden = rows.length === 0;
    $("items-caption").textContent = `Items (${rows.length})`;
    renderPager(rows.length);
  }

  function renderPager(shown) {
    // "1–100 of 52,330": the first and last of this page, and the listing's total if known.
    const first = (state.cursors.length - 1) * PAGE_SIZE + 1;
    const range = shown
      ? `${numberFormat.format(first)}–${numberFormat.format(first + shown - 1)}`
      : "No items";
    const total = state.total === null ? "" : ` of ${numberFormat.format(state.total)}`;
    $("page-range").textContent = shown || state.total === null ? `${range}${total}` : range;
    $("page-previous").disabled = state.cursors.length <= 1;
    $("page-next").disabled = !state.next;
    $("pager").hidden = shown === 0 && state.cursors.length <= 1;
  }

  function uploadCommand() {
    // On an emulator the AWS CLI must be told where it is; on AWS it needs nothing extra.
    const endpoint = state.config.endpointUrl ? ` --endpoint-url ${state.config.endpointUrl}` : "";
    return `aws s3 cp stock.csv s3://${state.config.uploadsBucket}/${endpoint}`;
  }

  function row(item) {
    const tr = document.createElement("tr");
    tr.dataset.status = item.status;
    tr.append(
      cell("Store", item.store),
      itemCell(item),
      cell("Count", numberFormat.format(item.count), "numeric"),
      badgeCell(item.status),
      cell("Runs out", forecastText(item.runs_out_in_days, true), "numeric forecast"),
      timeCell(item.updated_at),
      sourceCell(item.source),
    );
    return tr;
  }

  function cell(label, text, className) {
    const td = document.createElement("td");
    td.dataset.label = label;
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function itemCell(item) {
    // The name opens the item's history.
    const td = cell("Item", "", "item-name");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = item.item;
    button.addEventListener("click", () => openItem(item));
    td.append(button);
    return td;
  }

  function forecastText(days, short) {
    if (days === null || days === undefined) return short ? "–" : "Not decreasing";
    const rounded = Math.max(Math.round(days), 0);
    if (rounded === 0) return short ? "under a day" : "Runs out in less than a day";
    const text = `${numberFormat.format(rounded)} day${rounded === 1 ? "" : "s"}`;
    return short ? text : `Runs out in about ${text}`;
  }

  function badgeCell(status) {
    const td = cell("Status", "");
    const badge = document.createElement("span");
    badge.className = `badge badge-${status}`;
    badge.textContent = STATUS_LABELS[status] || status;
    td.append(badge);
    return td;
  }

  function timeCell(iso) {
    const td = cell("Last updated", "");
    const time = document.createElement("time");
    time.setAttribute("datetime", iso);
    time.textContent = formatTime(iso);
    td.append(time);
    return td;
  }

  function sourceCell(uri) {
    // The file's name; the whole s3:// address on hover and for screen readers' title.
    const td = cell("Source file", uri.split("/").pop() || uri, "source");
    td.title = uri;
    return td;
  }

  function formatTime(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : dateTimeFormat.format(date);
  }

  function compareBy(key, direction) {
    return (a, b) => {
      let order;
      if (key === "count") order = a.count - b.count;
      else if (key === "runs_out_in_days") order = forecastOrder(a) - forecastOrder(b);
      else if (key === "status") order = STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
      else order = collator.compare(String(a[key]), String(b[key]));
      if (order === 0) order = collator.compare(a.store, b.store) || collator.compare(a.item, b.item);
      return order * direction;
    };
  }

  function forecastOrder(item) {
    // Soonest first; items not decreasing after every forecast.
    const days = item.runs_out_in_days;
    return days === null || days === undefined ? Number.MAX_VALUE : days;
  }

  function sortBy(key) {
    if (!COLUMNS.includes(key)) return;
    state.sort =
      state.sort.key === key
        ? { key, direction: -state.sort.direction }
        : { key, direction: key === "count" || key === "updated_at" ? -1 : 1 };
    if (state.summary) renderTable();
  }

  // ------------------------------------------------------------------ one item

  async function openItem(item) {
    const view = $("item-view");
    $("item-title").textContent = `${item.item} · ${item.store}`;
    $("item-forecast").textContent = "Loading history…";
    $("item-threshold").textContent = "";
    $("item-chart").replaceChildren();
    $("item-changes").replaceChildren();
    view.hidden = false;
    $("item-title").focus();
    const path = `/items/${encodeURIComponent(item.store)}/${encodeURIComponent(item.item)}/history`;
    let answer;
    try {
      answer = await api(path, { limit: 500 });
    } catch (error) {
      $("item-forecast").textContent = `Could not load the history (${error.message}).`;
      return;
    }
    if (view.hidden || $("item-title").textContent !== `${item.item} · ${item.store}`) return;
    const current = answer.current || item;
    $("item-forecast").textContent = forecastText(answer.runs_out_in_days, false);
    $("item-threshold").textContent =
      `Low at ${current.low_stock_threshold} or fewer` +
      (current.own_threshold ? " (this item's own threshold)" : " (the stack's threshold)") +
      `; ${numberFormat.format(current.count)} now.`;
    drawChart(answer.history.slice().reverse(), current.low_stock_threshold);
    $("item-changes").replaceChildren(...answer.history.map(changeRow));
  }

  function changeRow(change) {
    const li = document.createElement("li");
    const time = document.createElement("time");
    time.setAttribute("datetime", change.at);
    time.textContent = formatTime(change.at);
    const was = change.previous === null ? "new" : numberFormat.format(change.previous);
    const file = document.createElement("span");
    file.className = "source";
    file.title = change.source;
    file.textContent = change.source.split("/").pop() || change.source;
    li.append(time, ` ${was} → ${numberFormat.format(change.count)} `, file);
    return li;
  }

  function svg(name, attributes) {
    // In the SVG namespace of the page's own <svg> (index.html), so no namespace URL here.
    const element = document.createElementNS($("item-chart").namespaceURI, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    return element;
  }

  function drawChart(points, threshold) {
    // Count over time, oldest on the left; the threshold as a dashed line.
    const chart = $("item-chart");
    const width = 640;
    const height = 220;
    const pad = { left: 48, right: 16, top: 12, bottom: 28 };
    if (points.length === 0) {
      const note = svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" });
      note.textContent = "No changes recorded yet";
      chart.append(note);
      return;
    }
    const times = points.map((point) => new Date(point.at).getTime());
    const low = Math.min(...times);
    const span = Math.max(...times) - low || 1;
    const top = Math.max(...points.map((point) => point.count), threshold, 1);
    const x = (time) => pad.left + ((time - low) / span) * (width - pad.left - pad.right);
    const y = (count) => height - pad.bottom - (count / top) * (height - pad.top - pad.bottom);
    chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
    chart.append(
      svg("line", { class: "axis", x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0) }),
      svg("line", {
        class: "threshold",
        x1: pad.left,
        y1: y(threshold),
        x2: width - pad.right,
        y2: y(threshold),
      }),
    );
    for (const [count, label] of [
      [0, "0"],
      [top, numberFormat.format(top)],
    ]) {
      const text = svg("text", { x: pad.left - 6, y: y(count) + 4, "text-anchor": "end" });
      text.textContent = label;
      chart.append(text);
    }
    // A step line: a count holds until the next change.
    let path = "";
    points.forEach((point, index) => {
      const px = x(times[index]).toFixed(1);
      const py = y(point.count).toFixed(1);
      path += index === 0 ? `M${px},${py}` : `H${px}V${py}`;
    });
    chart.append(svg("path", { class: "line", d: path }));
    points.forEach((point, index) => {
      const dot = svg("circle", { class: "point", cx: x(times[index]), cy: y(point.count), r: 3 });
      const title = svg("title", {});
      title.textContent = `${formatTime(point.at)}: ${point.count}`;
      dot.append(title);
      chart.append(dot);
    });
    for (const [time, anchor] of [
      [low, "start"],
      [low + span, "end"],
    ]) {
      const text = svg("text", { x: x(time), y: height - 8, "text-anchor": anchor });
      text.textContent = points.length > 1 || anchor === "start" ? formatTime(new Date(time).toISOString()) : "";
      chart.append(text);
    }
  }

  function closeItem() {
    $("item-view").hidden = true;
  }

  // ------------------------------------------------------------------ views

  function showSignIn(message) {
    $("loading").hidden = true;
    $("session").hidden = true;
    $("dashboard-view").hidden = true;
    $("sign-in-view").hidden = false;
    const error = $("sign-in-error");
    error.textContent = message || "";
    error.hidden = !message;
    $("password").value = "";
    $("username").focus();
  }

  function showDashboard(focus) {
    $("loading").hidden = true;
    $("sign-in-view").hidden = true;
    $("session").hidden = false;
    $("whoami").textContent = state.session.username;
    $("dashboard-view").hidden = false;
    $("last-fetched").textContent = "Fetching…";
    if (focus) $("dashboard-title").focus();
    filtersFromHash();
    state.generation += 1;
    refreshData();
    startPolling();
  }

  function fatal(message) {
    $("loading").hidden = true;
    const banner = $("fatal");
    banner.textContent = message;
    banner.hidden = false;
  }

  function wire() {
    $("sign-in-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const username = $("username").value.trim();
      const password = $("password").value;
      const error = $("sign-in-error");
      if (!username || !password) {
        error.textContent = "Enter your username and password.";
        error.hidden = false;
        return;
      }
      const button = $("sign-in-button");
      button.disabled = true;
      button.textContent = "Signing in…";
      try {
        await signIn(username, password);
        $("password").value = "";
        showDashboard(true);
      } catch (failure) {
        error.textContent =
          failure.code === "NotAuthorizedException" || failure.code === "UserNotFoundException"
            ? "Incorrect username or password."
            : failure.message;
        error.hidden = false;
        $("password").select();
      } finally {
        button.disabled = false;
        button.textContent = "Sign in";
      }
    });
    $("sign-out").addEventListener("click", signOut);
    $("filters").addEventListener("submit", (event) => event.preventDefault());
    $("filter-store").addEventListener("change", filtersChanged);
    $("filter-status").addEventListener("change", filtersChanged);
    $("filter-search").addEventListener("input", () => {
      clearTimeout(state.searchTimer);
      state.searchTimer = setTimeout(filtersChanged, SEARCH_DELAY_MS);
    });
    $("page-previous").addEventListener("click", () => turnPage(-1));
    $("page-next").addEventListener("click", () => turnPage(1));
    $("item-close").addEventListener("click", closeItem);
    $("clear-filters").addEventListener("click", () => {
      $("filter-store").value = "";
      $("filter-status").value = "";
      $("filter-search").value = "";
      filtersChanged();
    });
    for (const th of document.querySelectorAll("th[data-sort]")) {
      th.querySelector("button").addEventListener("click", () => sortBy(th.dataset.sort));
    }
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && state.session) refreshData();
    });
  }

  async function start() {
    wire();
    try {
      const response = await fetch("config.json", { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      state.config = await response.json();
    } catch (error) {
      fatal(`The dashboard's configuration could not be loaded (${error.message}).`);
      return;
    }
    state.session = restoreSession();
    if (!state.session) {
      showSignIn("");
      return;
    }
    try {
      await freshToken(); // an expired access token is renewed before the first request
    } catch (error) {
      if (error.code !== "Network") return; // renew() has shown the sign-in form
      // Offline for now: the dashboard says so and its refreshes keep trying to renew.
    }
    scheduleTokenRefresh();
    showDashboard(false);
  }

  start();
})();
