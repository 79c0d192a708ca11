// The inventory dashboard: Cognito sign-in (USER_PASSWORD_AUTH, then REFRESH_TOKEN_AUTH) by
// fetch, and the stack's HTTP API with the access token. No framework, no build step.
//
// Every value that comes from data (store and item names, sources, user names, error
// messages) is put in the page with textContent or setAttribute, never as HTML.
"use strict";

(() => {
  const SESSION_KEY = "inventory-dashboard-session";
  const SESSION_ENDED = "Your session has ended. Please sign in again.";
  const PAGE_SIZE = 500; // items per API request
  const MAX_ITEMS = 5000; // items shown at most; narrower filters show the rest
  const REFRESH_MARGIN_MS = 60_000; // refresh the token this long before it expires
  const SEARCH_DELAY_MS = 300;
  const STATUS_LABELS = { out: "Out of stock", low: "Low", ok: "OK" };
  const STATUS_ORDER = { out: 0, low: 1, ok: 2 };
  const COLUMNS = ["store", "item", "count", "status", "updated_at", "source"];

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
    summary: null,
    truncated: false,
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

  async function fetchItems(filters) {
    const items = [];
    let next = null;
    do {
      const page = await api("/items", { ...filters, limit: PAGE_SIZE, next });
      items.push(...page.items);
      next = page.next;
    } while (next && items.length < MAX_ITEMS);
    return { items: items.slice(0, MAX_ITEMS), truncated: Boolean(next) || items.length > MAX_ITEMS };
  }

  async function refreshData() {
    if (!state.session || state.inFlight) return;
    state.inFlight = true;
    const generation = state.generation;
    const filters = currentFilters();
    try {
      const [summary, listing] = await Promise.all([api("/summary"), fetchItems(filters)]);
      if (generation !== state.generation) return; // the filters changed meanwhile
      state.summary = summary;
      state.items = listing.items;
      state.truncated = listing.truncated;
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
      q: $("filter-search").value.trim(),
    };
  }

  function filtersChanged() {
    const filters = currentFilters();
    const hash = new URLSearchParams(
      Object.entries(filters).filter(([, value]) => value !== ""),
    ).toString();
    history.replaceState(null, "", hash ? `#${hash}` : location.pathname + location.search);
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
    $("filter-search").value = params.get("q") || "";
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
    const truncated = $("truncated");
    truncated.hidden = !state.truncated;
    truncated.textContent = state.truncated
      ? `Showing the first ${numberFormat.format(rows.length)} items: filter by store or search to see the rest.`
      : "";
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
      cell("Item", item.item, "item-name"),
      cell("Count", numberFormat.format(item.count), "numeric"),
      badgeCell(item.status),
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
      else if (key === "status") order = STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
      else order = collator.compare(String(a[key]), String(b[key]));
      if (order === 0) order = collator.compare(a.store, b.store) || collator.compare(a.item, b.item);
      return order * direction;
    };
  }

  function sortBy(key) {
    if (!COLUMNS.includes(key)) return;
    state.sort =
      state.sort.key === key
        ? { key, direction: -state.sort.direction }
        : { key, direction: key === "count" || key === "updated_at" ? -1 : 1 };
    if (state.summary) renderTable();
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
