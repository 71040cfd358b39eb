// The queuectl dashboard: polls the JSON API and redraws what changed. Every string that
// comes from a job is written with textContent (through el()), never parsed as HTML, and
// with its invisible characters shown as escapes (visible()).
"use strict";

(function () {
  const REFRESH_MS = 2000;
  const HIDDEN_REFRESH_MS = 15000;
  const PAGE = 50;
  const DLQ_ROWS = 10;
  const STATES = ["pending", "processing", "completed", "failed", "dead", "canceled"];
  const CANCELABLE = ["pending", "processing", "failed"];
  const TERMINAL = ["completed", "dead", "canceled"];
  const SVG = "http://www.w3.org/2000/svg";
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const tokenAuth = document.querySelector('meta[name="auth"]').content === "token";

  let view = parseHash();
  let generation = 0; // bumped on navigation: answers to older requests are dropped
  let timer = null;
  let status = null;
  let groups = []; // from /api/groups: each with its counts per state
  let clockOffset = 0; // server clock minus ours, in ms
  const drawn = new Map(); // panel -> signature of the data it shows
  const openAttempts = new Set();

  const $ = (id) => document.getElementById(id);

  // --- invisible characters --------------------------------------------------------

  // The categories of queuectl/visible.py, which the CLI uses (a browser test checks the
  // two agree): controls, formats (the bidi overrides and isolates, the zero-width ones),
  // line and paragraph separators. A right-to-left override in a command would reverse
  // the rest of its line, so one command could be made to look like another.
  const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
  // Line breaks and tabs stay: in a <pre> they are the text's lines, elsewhere HTML shows
  // them as a space.
  const LINE_BREAKS = "\n\t";

  function escapeChar(char) {
    const hex = char.codePointAt(0).toString(16);
    return hex.length <= 4 ? "\\u" + hex.padStart(4, "0") : "\\U" + hex.padStart(8, "0");
  }

  const visible = (text, keep = "") => String(text).replace(INVISIBLE, (char) =>
    (keep.includes(char) ? char : escapeChar(char)));
  // For the browser test, which runs one sample through this and the Python function.
  window.queuectl = Object.freeze({ visible });

  // --- DOM helpers -----------------------------------------------------------------

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach((c) => append(node, c));
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(visible(child, LINE_BREAKS)));
  }

  function build(node, attrs, children) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.setAttribute("class", value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name === "title") node.setAttribute(name, visible(value)); // a tooltip shows it
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  const el = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
  const svg = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs,
                                                 children);

  // A table's rows, or one row that says why there are none. Each cell is labelled with
  // its column's header, which a narrow screen shows beside it (style.css).
  function fillTable(id, rows, emptyText) {
    const body = $(id);
    const labels = Array.from(body.closest("table").tHead.rows[0].cells,
                              (th) => th.textContent);
    for (const row of rows) {
      Array.from(row.cells).forEach((cell, i) => { cell.dataset.label = labels[i]; });
    }
    body.replaceChildren(...(rows.length ? rows : [el("tr", null,
      el("td", { colspan: labels.length, class: "empty" }, emptyText))]));
  }

  // Redraw a panel only when its data changed, so buttons under the pointer stay put.
  function changed(panel, data) {
    const signature = JSON.stringify(data);
    if (drawn.get(panel) === signature) return false;
    drawn.set(panel, signature);
    return true;
  }

  // --- formatting ------------------------------------------------------------------

  const number = (n) => Number(n).toLocaleString("en-US");
  const mebibytes = (n) => (n / 1048576).toFixed(1) + " MiB";

  function age(seconds) {
    if (seconds < 10) return seconds.toFixed(1) + "s";
    if (seconds < 60) return Math.floor(seconds) + "s";
    const m = Math.floor(seconds / 60);
    if (m < 60) return m + "m " + Math.floor(seconds % 60) + "s";
    const h = Math.floor(m / 60);
    if (h < 24) return h + "h " + (m % 60) + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  const secondsSince = (iso) => (Date.now() + clockOffset - Date.parse(iso)) / 1000;
  // Whole seconds ahead: "in 5s", not "in 4.3s".
  const ahead = (seconds) => "in " + (seconds < 10 ? Math.ceil(seconds) + "s"
                                                   : age(Math.ceil(seconds)));

  // "<age> ago", or "in <age>" for a moment still to come (a canceled job's run_at, a
  // clock ahead of ours). Under a second ahead is the two clocks' jitter: "0.0s ago".
  const sinceText = (iso) => {
    const seconds = secondsSince(iso);
    return seconds > -1 ? age(Math.max(0, seconds)) + " ago" : ahead(-seconds);
  };
  // An element whose text is sinceText(), kept current by tickAges().
  const since = (iso) => (iso ? el("span", { class: "age", dataset: { since: iso }, title: iso },
                                   sinceText(iso)) : "");

  // "in <age>" until a waiting job's run_at (a --delay, a backoff), then "due".
  const untilText = (iso) => {
    const left = -secondsSince(iso);
    return left > 0 ? ahead(left) : "due";
  };
  const until = (iso) => el("span", { class: "age until", dataset: { until: iso }, title: iso },
                            untilText(iso));
  const waits = (job) => (job.state === "pending" || job.state === "failed")
    && secondsSince(job.run_at) < 0;

  function tickAges() {
    document.querySelectorAll("[data-since]").forEach((node) => {
      node.textContent = sinceText(node.dataset.since);
    });
    document.querySelectorAll("[data-until]").forEach((node) => {
      node.textContent = untilText(node.dataset.until);
    });
  }

  function clock(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function shorten(text, width) {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length <= width ? flat : flat.slice(0, width - 1) + "…";
  }

  const badge = (state) => el("span", { class: "badge " + state }, state);
  // The id goes in the query: the browser resolves a path segment of "." or ".." (even
  // percent-encoded) instead of sending it. In the hash, dots are encoded all the same.
  const idQuery = (id) => "?" + new URLSearchParams({ id: id });
  const groupQuery = (name) => "?" + new URLSearchParams({ name: name });
  const queueQuery = groupQuery; // a queue is named the same way, and so is a schedule
  const jobLink = (id) => el("a", { href: "#/job/" +
                                    encodeURIComponent(id).replace(/\./g, "%2E") }, id);

  // --- the API ---------------------------------------------------------------------

  async function api(path, body) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["X-CSRF-Token"] = csrfToken;
      if (body !== null) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      window.location.reload(); // the session ended: show the login form
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      throw new Error((data && data.error) || response.status + " " + response.statusText);
    }
    return data;
  }

  function showBanner(message, kind) {
    const banner = $("banner");
    banner.textContent = visible(message); // an error may quote a job's string
    banner.className = "banner " + (kind || "error");
    banner.hidden = false;
  }

  function hideBanner(kind) {
    if ($("banner").classList.contains(kind)) $("banner").hidden = true;
  }

  // --- navigation ------------------------------------------------------------------

  function parseHash() {
    const hash = window.location.hash.replace(/^#/, "");
    if (hash.startsWith("/job/")) {
      try {
        return { name: "job", jobId: decodeURIComponent(hash.slice(5)) };
      } catch (error) {
        return { name: "overview", state: "", queue: "", group: "", offset: 0 };
      }
    }
    const params = new URLSearchParams(hash.split("?")[1] || "");
    const offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
    return { name: "overview", state: params.get("state") || "", queue: params.get("queue") || "",
             group: params.get("group") || "", offset: offset - (offset % PAGE) };
  }

  function overviewHash(state, queue, offset, group = "") {
    const params = new URLSearchParams();
    if (state) params.set("state", state);
    if (queue) params.set("queue", queue);
    if (group) params.set("group", group);
    if (offset) params.set("offset", String(offset));
    const text = params.toString();
    return "#/" + (text ? "?" + text : "");
  }

  function navigate() {
    view = parseHash();
    generation += 1;
    // A filter or a page of jobs keeps what it shows until the answer; a job's page is new.
    $("loading").hidden = view.name === "overview" && drawn.has("counts");
    $("overview").hidden = view.name !== "overview";
    $("job-view").hidden = view.name !== "job";
    if (view.name === "overview") {
      $("filter-state").value = view.state;
      syncQueueOptions();
      $("filter-queue").value = view.queue;
      syncGroupOptions();
      $("filter-group").value = view.group;
    } else {
      clearJob();
      $("job-id").textContent = visible(view.jobId);
    }
    refresh();
  }

  // --- refreshing ------------------------------------------------------------------

  function schedule() {
    clearTimeout(timer);
    if ($("live").checked) {
      timer = setTimeout(refresh, document.hidden ? HIDDEN_REFRESH_MS : REFRESH_MS);
    }
  }

  async function refresh() {
    clearTimeout(timer);
    const mine = generation;
    try {
      if (view.name === "job") await refreshJob(mine);
      else await refreshOverview(mine);
      if (mine === generation) {
        $("loading").hidden = true;
        hideBanner("error");
        $("updated").textContent = "updated " + new Date().toLocaleTimeString();
      }
    } catch (error) {
      if (mine === generation) {
        $("loading").hidden = true;
        showBanner(error.message);
      }
    }
    if (mine === generation) schedule();
  }

  async function refreshOverview(mine) {
    const query = new URLSearchParams({ limit: PAGE, offset: view.offset });
    if (view.state) query.set("state", view.state);
    if (view.queue) query.set("queue", view.queue);
    if (view.group) query.set("group", view.group);
    const [current, page, dead, throughput, stats, listed, queues, locks, schedules] =
      await Promise.all([
      api("/api/status"),
      api("/api/jobs?" + query),
      api("/api/jobs?state=dead&limit=" + DLQ_ROWS),
      api("/api/throughput"),
      api("/api/stats"),
      api("/api/groups"),
      api("/api/queues"),
      api("/api/locks"),
      api("/api/schedules"),
    ]);
    if (mine !== generation) return;
    status = current;
    groups = listed.groups;
    clockOffset = Date.parse(throughput.until) - Date.now();
    $("store").textContent = visible(current.store);
    drawCounts(current);
    drawQueues(queues.queues);
    drawLocks(locks.locks);
    drawSchedules(schedules.schedules);
    drawWorkers(current.workers);
    drawDlq(dead, current.counts.dead);
    drawGroups(groups);
    drawJobs(page);
    drawChart(throughput, stats);
    tickAges();
  }

  async function refreshJob(mine) {
    let detail, explained;
    try {
      [detail, explained] = await Promise.all([api("/api/job" + idQuery(view.jobId)),
                                               api("/api/job/explain" + idQuery(view.jobId))]);
    } catch (error) {
      // What is shown, and its Cancel button, may be another job's or out of date.
      if (mine === generation) clearJob();
      throw error;
    }
    if (mine !== generation) return;
    drawJob(detail);
    drawExplain(explained);
    drawDependencies(detail);
    tickAges();
  }

  // --- overview panels -------------------------------------------------------------

  function drawCounts(current) {
    if (!changed("counts", current.counts)) return;
    const total = STATES.reduce((sum, state) => sum + current.counts[state], 0);
    const card = (state, count, label) =>
      el("a", { class: "card " + state, href: overviewHash(state, "", 0), "data-state": state },
         el("span", { class: "count" }, number(count)), el("span", { class: "label" }, label));
    $("counts").replaceChildren(
      card("", total, "all jobs"),
      ...STATES.map((state) => card(state, current.counts[state], state)));
  }

  // Each known queue: its counts (links to its jobs), paused or not, running / limit, its
  // workers, and Pause or Resume.
  function drawQueues(listed) {
    syncQueueOptions();
    if (!changed("queues", listed)) return;
    if ($("queues-head").children.length === 1) {
      append($("queues-head"), [
        STATES.map((state) => el("th", { class: "num" }, state)),
        el("th", null, "state"), el("th", { class: "num" }, "running / limit"),
        el("th", { class: "num" }, "workers"),
        el("th", { class: "actions" }, el("span", { class: "hidden-label" }, "actions"))]);
    }
    const rows = listed.map((q) => el("tr", { dataset: { queue: q.queue } },
      el("td", null, el("a", { href: overviewHash("", q.queue, 0) }, q.queue)),
      STATES.map((state) => el("td", { class: "num" },
        q.counts[state]
          ? el("a", { href: overviewHash(state, q.queue, 0) }, number(q.counts[state]))
          : el("span", { class: "zero" }, "0"))),
      el("td", { class: "flow" }, badge(q.paused ? "paused" : "active")),
      el("td", { class: "num running" },
         number(q.running) + " / " + (q.limit === null ? "no limit" : number(q.limit))),
      el("td", { class: "num" }, number(q.workers.length)),
      el("td", { class: "actions" }, q.paused
        ? actionButton("queue-resume", "Resume", { queue: q.queue }, "Resume queue " + q.queue)
        : actionButton("queue-pause", "Pause", { queue: q.queue }, "Pause queue " + q.queue))));
    fillTable("queues", rows, "no queue yet: one shows once it has jobs, or is paused or limited");
  }

  function drawLocks(held) {
    $("locks-count").textContent = held.length ? "(" + number(held.length) + ")" : "";
    if (!changed("locks", held)) return;
    const rows = held.map((lock) => el("tr", { dataset: { lock: lock.lock } },
      el("td", null, lock.lock),
      el("td", null, lock.jobs.map((id, i) => [i ? ", " : "", jobLink(id)]))));
    fillTable("locks", rows, "no lock is held");
  }

  // A moment as the wall time of a schedule's zone, as `schedule list` shows it.
  function wallTime(iso, zone) {
    try {
      return new Intl.DateTimeFormat("sv-SE", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", timeZoneName: "short" }).format(new Date(iso));
    } catch (error) { // a zone this browser does not know
      return iso;
    }
  }

  // Each schedule: its cron and zone, its next run (none while paused), its last run's
  // job and that job's state, paused or not, and Pause or Resume and Run now. It shows no
  // job options: their env may hold secrets, masked or not.
  function drawSchedules(listed) {
    $("schedules-count").textContent = listed.length ? "(" + number(listed.length) + ")" : "";
    if (!changed("schedules", listed)) return;
    const target = (s) => ({ schedule: s.name });
    const rows = listed.map((s) => el("tr", { dataset: { schedule: s.name } },
      el("td", null, s.name),
      el("td", null, el("code", null, s.expression)),
      el("td", null, s.zone),
      el("td", { class: "next-run" }, s.next_run
        ? [el("span", null, wallTime(s.next_run, s.zone)), " ",
           el("span", { class: "muted" }, "(", until(s.next_run), ")")]
        : el("span", { class: "muted" }, "paused")),
      el("td", { class: "last-run" }, s.last_run
        ? [jobLink(s.last_run.job), " ", badge(s.last_run.state)]
        : el("span", { class: "muted" }, "none yet")),
      el("td", { class: "flow" }, badge(s.paused ? "paused" : "active")),
      el("td", { class: "command", title: s.command }, shorten(s.command, 60)),
      el("td", { class: "actions" }, s.paused
        ? actionButton("schedule-resume", "Resume", target(s), "Resume schedule " + s.name)
        : actionButton("schedule-pause", "Pause", target(s), "Pause schedule " + s.name),
         " ", actionButton("schedule-run", "Run now", target(s), "Run schedule " + s.name +
                           " now"))));
    fillTable("schedules", rows, "no schedule — add one with: queuectl schedule add");
  }

  function syncQueueOptions() {
    syncOptions($("filter-queue"), status ? Object.keys(status.queues) : [], view.queue);
  }

  function syncGroupOptions() {
    syncOptions($("filter-group"), groups.map((g) => g.group), view.group);
  }

  // A filter's choices: "all", the names there are, and the one chosen even if it has none.
  function syncOptions(select, names, current) {
    if (current && !names.includes(current)) names.push(current);
    const have = Array.from(select.options).slice(1).map((option) => option.value);
    if (JSON.stringify(have) === JSON.stringify(names)) return;
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "all"),
                           ...names.map((name) => el("option", { value: name }, name)));
    select.value = chosen;
  }

  function drawWorkers(workers) {
    $("workers-count").textContent = workers.length ? "(" + workers.length + ")" : "";
    const stable = workers.map((w) => ({ ...w, heartbeat_age: undefined }));
    if (!changed("workers", stable)) return;
    const rows = workers.map((w) => el("tr", null,
      el("td", null, w.id), el("td", null, w.host), el("td", { class: "num" }, w.pid),
      el("td", null, badge(w.state)),
      el("td", null, w.job_id ? jobLink(w.job_id) : ""),
      el("td", null, w.queues ? w.queues.join(", ") : "all"),
      el("td", null, since(w.last_heartbeat))));
    fillTable("workers", rows, "no worker is running — start some with: queuectl worker start");
  }

  // A button that acts on what it was drawn for: a job's id, a group's or a queue's name;
  // `name` is what a screen reader says when the label alone does not say what it acts on.
  const actionButton = (action, label, target, name) =>
    el("button", { type: "button", class: "action " + action, "aria-label": name,
                   dataset: { action: action, ...target } }, label);

  function actionButtons(job) {
    return [
      CANCELABLE.includes(job.state) ? actionButton("cancel", "Cancel", { id: job.id }) : null,
      job.state === "dead" ? actionButton("retry", "Retry", { id: job.id }) : null,
    ].filter(Boolean);
  }

  // A job's own page has every verb that applies to it (requeue is dead jobs' retry too).
  function jobPageButtons(job) {
    const waiting = job.state === "pending" || job.state === "failed";
    return [
      CANCELABLE.includes(job.state) ? actionButton("cancel", "Cancel", { id: job.id }) : null,
      waiting && !job.held ? actionButton("hold", "Hold", { id: job.id }) : null,
      job.held ? actionButton("release", "Release", { id: job.id }) : null,
      TERMINAL.includes(job.state) ? actionButton("requeue", "Requeue", { id: job.id }) : null,
    ].filter(Boolean);
  }

  const heldBadge = (job) => (job.held ? [" ", el("span", { class: "badge held" }, "held")]
    : null);

  // --- groups ----------------------------------------------------------------------

  // The bar's segments, in order; "pending" is what is left of it.
  const PROGRESS = ["completed", "failed", "dead", "canceled", "processing", "pending"];

  const countsText = (counts) => PROGRESS.filter((state) => counts[state])
    .map((state) => number(counts[state]) + " " + state).join(", ");

  function progressBar(group) {
    const bar = svg("svg", { class: "progress", viewBox: "0 0 100 10",
                             preserveAspectRatio: "none", role: "img",
                             "aria-label": "progress of " + group.group + ": " +
                               countsText(group.counts) });
    let x = 0;
    for (const state of PROGRESS) {
      const width = (group.counts[state] / group.total) * 100;
      if (width) append(bar, svg("rect", { x: x, y: 0, width: width, height: 10, class: state }));
      x += width;
    }
    return bar;
  }

  function drawGroups(listed) {
    $("groups-panel").hidden = listed.length === 0;
    $("groups-count").textContent = listed.length ? "(" + number(listed.length) + ")" : "";
    syncGroupOptions();
    if (!changed("groups", listed)) return;
    const rows = listed.map((group) => {
      const c = group.counts;
      return el("tr", { dataset: { group: group.group } },
        el("td", null, el("a", { href: overviewHash("", "", 0, group.group) }, group.group)),
        el("td", null, progressBar(group)),
        el("td", { class: "num" }, number(group.finished) + " of " + number(group.total) +
           " (" + Math.round(group.progress * 100) + "%)"),
        el("td", null, countsText(c)),
        el("td", { class: "actions" },
           c.dead + c.canceled ? actionButton("group-requeue", "Requeue failed",
                                              { group: group.group }) : null,
           c.pending + c.failed + c.processing ? actionButton("group-cancel", "Cancel",
                                                              { group: group.group }) : null));
    });
    fillTable("groups", rows, "no groups");
  }

  function drawDlq(page, total) {
    $("dlq-count").textContent = "(" + number(total) + ")";
    $("retry-all").disabled = total === 0;
    $("retry-all").dataset.count = total;
    const more = $("dlq-more");
    more.hidden = total <= page.jobs.length;
    if (!more.hidden) {
      more.replaceChildren(el("a", { href: overviewHash("dead", "", 0) },
        "all " + number(total) + " dead jobs"));
    }
    if (!changed("dlq", page.jobs)) return;
    const rows = page.jobs.map((job) => el("tr", { dataset: { job: job.id } },
      el("td", null, jobLink(job.id)), el("td", null, job.queue),
      el("td", { class: "num" }, job.attempts),
      el("td", { class: "num" }, job.exit_code === null ? "" : job.exit_code),
      el("td", { class: "error", title: job.last_error }, job.last_error || ""),
      el("td", null, since(job.finished_at)),
      el("td", { class: "command", title: job.command }, shorten(job.command, 60)),
      el("td", { class: "actions" }, actionButtons(job))));
    fillTable("dlq", rows, "no dead jobs");
  }

  function filteredTotal() {
    if (!status) return null;
    if (view.group) {
      const group = groups.find((g) => g.group === view.group);
      if (!group) return 0;
      if (view.queue) return null; // no count per group and queue
      return view.state ? group.counts[view.state] : group.total;
    }
    if (view.queue) {
      const counts = status.queues[view.queue];
      if (!counts) return 0;
      return view.state ? counts[view.state] : STATES.reduce((s, st) => s + counts[st], 0);
    }
    return view.state ? status.counts[view.state]
      : STATES.reduce((s, st) => s + status.counts[st], 0);
  }

  function drawJobs(page) {
    const total = filteredTotal();
    const first = page.jobs.length ? page.offset + 1 : 0;
    const last = page.offset + page.jobs.length;
    $("page-info").textContent = page.jobs.length
      ? number(first) + "–" + number(last) + (total === null ? "" : " of " + number(total))
      : (page.offset ? "no jobs on this page" : "");
    $("prev").disabled = page.offset === 0;
    $("next").disabled = !page.has_more;
    if (!changed("jobs", page)) return;
    const rows = page.jobs.map((job) => el("tr", { dataset: { job: job.id } },
      el("td", null, jobLink(job.id)), el("td", null, badge(job.state), heldBadge(job)),
      el("td", null, job.queue), el("td", { class: "num" }, job.priority),
      el("td", { class: "num" }, job.attempts + "/" + (job.max_retries + 1)),
      el("td", { class: "num" }, job.exit_code === null ? "" : job.exit_code),
      el("td", null, since(job.updated_at)),
      el("td", { class: "run-at" }, waits(job) ? until(job.run_at) : ""),
      el("td", { class: "command", title: job.command }, shorten(job.command, 80)),
      el("td", { class: "actions" }, actionButtons(job))));
    fillTable("jobs", rows, "no jobs");
  }

  function niceCeiling(value) {
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    const steps = [1, 2, 5, 10].map((s) => s * power);
    return steps.find((s) => s >= value);
  }

  function drawChart(throughput, stats) {
    const t = stats.total;
    $("summary").textContent = "last hour: " + number(t.completed) + " completed, " +
      number(t.failed_attempts) + " failed attempts" +
      (t.mean_seconds === null ? "" : ", mean " + t.mean_seconds + " s, p95 " +
       t.p95_seconds + " s");
    const buckets = throughput.buckets;
    if (!changed("chart", buckets.map((b) => [b.start, b.completed, b.failed]))) return;
    const width = 600, height = 180, left = 40, right = 6, top = 8, bottom = 22;
    const plot = height - top - bottom;
    const peak = niceCeiling(Math.max(1, ...buckets.map((b) => b.completed + b.failed)));
    const barWidth = (width - left - right) / buckets.length;
    const y = (value) => top + plot - (value / peak) * plot;
    const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
                               "aria-label": "attempts completed and failed per minute" });
    for (const value of [0, peak / 2, peak]) {
      append(chart, [
        svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "rule" }),
        svg("text", { x: left - 6, y: y(value) + 4, class: "tick", "text-anchor": "end" },
            number(value))]);
    }
    buckets.forEach((bucket, i) => {
      const x = left + i * barWidth + 0.5;
      const w = Math.max(barWidth - 1, 1);
      const done = (bucket.completed / peak) * plot;
      const failed = (bucket.failed / peak) * plot;
      append(chart, svg("g", { class: "bar" },
        svg("title", null, clock(bucket.start) + ": " + bucket.completed + " completed, " +
            bucket.failed + " failed"),
        svg("rect", { x: x, y: top, width: w, height: plot, class: "hover" }),
        done ? svg("rect", { x: x, y: top + plot - done, width: w, height: done,
                             class: "completed" }) : null,
        failed ? svg("rect", { x: x, y: top + plot - done - failed, width: w, height: failed,
                               class: "failed" }) : null));
    });
    const labels = [[0, "start", left], [Math.floor(buckets.length / 2), "middle", null],
                    [buckets.length - 1, "end", width - right]];
    for (const [i, anchor, x] of labels) {
      if (!buckets[i]) continue;
      append(chart, svg("text", { x: x === null ? left + (i + 0.5) * barWidth : x,
                                  y: height - 6, class: "tick", "text-anchor": anchor },
                        clock(buckets[i].start)));
    }
    $("chart").replaceChildren(chart);
  }

  // --- the job page ----------------------------------------------------------------

  function clearJob() {
    openAttempts.clear();
    drawn.delete("job");
    drawn.delete("job-actions");
    drawn.delete("explain");
    drawn.delete("dependencies");
    $("runnable").textContent = "";
    for (const id of ["job-state", "job-actions", "job-fields", "attempts", "reasons",
                      "dependencies", "dependents"]) {
      $(id).replaceChildren();
    }
  }

  function drawJob(detail) {
    const job = detail.job;
    if (changed("job-actions", [job.id, job.state, job.held])) {
      $("job-state").replaceChildren(badge(job.state), ...(heldBadge(job) || []));
      $("job-actions").replaceChildren(...jobPageButtons(job));
    }
    if (!changed("job", detail)) return;
    const field = (name, value) => el("tr", null, el("th", null, name), el("td", null, value));
    const env = Object.entries(job.env).map(([k, v]) => k + "=" + v).join("\n");
    const when = (iso) => (iso ? [iso + " ", el("span", { class: "muted" }, "(", since(iso), ")")]
      : "");
    $("job-fields").replaceChildren(
      field("command", el("pre", { class: "command" }, job.command)),
      field("state", badge(job.state)),
      field("attempts", job.attempts + " of " + (job.max_retries + 1)),
      field("queue", job.queue), field("priority", job.priority),
      field("group", job.group === null ? ""
        : [el("a", { href: overviewHash("", "", 0, job.group) }, job.group),
           job.index === null ? "" : " (index " + job.index + ")"]),
      field("held", job.held ? "yes: no worker claims it until it is released" : "no"),
      field("run at", waits(job)
        ? [job.run_at + " ", el("span", { class: "muted" }, "(", until(job.run_at), ")")]
        : when(job.run_at)),
      field("timeout", job.timeout === null ? "config job_timeout" : job.timeout + " s"),
      field("cwd", job.cwd), field("env", env ? el("pre", null, env) : ""),
      field("exit code", job.exit_code === null ? "" : job.exit_code),
      field("last error", job.last_error || ""), field("worker", job.worker_id || ""),
      field("created", when(job.created_at)), field("updated", when(job.updated_at)),
      field("started", when(job.started_at)), field("finished", when(job.finished_at)));
    const attempts = detail.attempts.slice().reverse();
    if (attempts.length && !openAttempts.size) openAttempts.add(attempts[0].number);
    const readPlaces = placesReadAbove();
    $("attempts").replaceChildren(...(attempts.length ? attempts.map(drawAttempt)
      : [el("p", { class: "empty" }, TERMINAL.includes(job.state) ? "it never ran"
        : "it has not run yet")]));
    document.querySelectorAll("#attempts pre.output").forEach((pre) => {
      const number = pre.closest("details").dataset.number;
      pre.scrollTop = readPlaces.has(number) ? readPlaces.get(number) : pre.scrollHeight;
    });
  }

  function drawExplain(explained) {
    if (!changed("explain", explained)) return;
    $("runnable").textContent = explained.runnable ? "(a worker may claim it now)" : "";
    $("reasons").replaceChildren(...(explained.reasons.length
      ? explained.reasons.map((r) => el("li", { dataset: { code: r.code } }, r.message))
      : [el("li", { class: "empty" }, "nothing keeps it from running")]));
  }

  const CONDITIONS = { success: "to complete", any: "to end", failure: "to end dead or canceled" };

  function drawDependencies(detail) {
    if (!changed("dependencies", [detail.dependencies, detail.dependents,
                                  detail.more_dependents])) return;
    const none = (text) => [el("li", { class: "empty" }, text)];
    $("dependencies").replaceChildren(...(detail.dependencies.length
      ? detail.dependencies.map((d) => el("li", { dataset: { job: d.id } },
          jobLink(d.id), " " + CONDITIONS[d.on] + " ",
          d.state === null ? el("span", { class: "muted" }, "(purged)") : badge(d.state)))
      : none("no job: it waits for none")));
    $("dependents").replaceChildren(...(detail.dependents.length
      ? [...detail.dependents.map((id) => el("li", { dataset: { job: id } }, jobLink(id))),
         detail.more_dependents ? el("li", { class: "empty" }, "and more") : null]
      : none("no job waits for it")).filter(Boolean));
  }

  // Output follows its newest lines, but not while the reader has scrolled up to read:
  // attempt number -> where they are.
  function placesReadAbove() {
    const places = new Map();
    document.querySelectorAll("#attempts pre.output").forEach((pre) => {
      if (pre.scrollTop + pre.clientHeight < pre.scrollHeight - 4) {
        places.set(pre.closest("details").dataset.number, pre.scrollTop);
      }
    });
    return places;
  }

  function drawAttempt(attempt) {
    const seconds = attempt.started_at && attempt.finished_at
      ? ((Date.parse(attempt.finished_at) - Date.parse(attempt.started_at)) / 1000).toFixed(3)
        + " s" : "";
    const outcome = attempt.outcome || "running";
    const node = el("details", { class: "attempt", open: openAttempts.has(attempt.number),
                                 dataset: { number: attempt.number } },
      el("summary", null, "#" + attempt.number + " ", badge(outcome),
         attempt.exit_code === null ? "" : " exit " + attempt.exit_code,
         attempt.error && attempt.error !== "exit code " + attempt.exit_code
           ? " · " + attempt.error : "",
         attempt.signal === null ? "" : " · signal " + attempt.signal,
         seconds ? " · " + seconds : "",
         attempt.cpu_user === null ? ""
           : " · CPU " + (attempt.cpu_user + attempt.cpu_system).toFixed(3) + " s",
         attempt.max_rss === null ? "" : " · max RSS " + mebibytes(attempt.max_rss),
         attempt.worker_id ? " · " + attempt.worker_id : "",
         attempt.started_at ? [" · ", since(attempt.started_at)] : ""),
      attempt.output_bytes > attempt.output.length
        ? el("p", { class: "muted" }, "the last " + number(attempt.output.length) +
             " characters of " + number(attempt.output_bytes) + " bytes")
        : null,
      el("pre", { class: "output" }, attempt.output || "(no output)"));
    node.addEventListener("toggle", () => {
      if (node.open && !openAttempts.has(attempt.number)) { // opened now, not redrawn open
        openAttempts.add(attempt.number);
        const pre = node.querySelector("pre.output");
        pre.scrollTop = pre.scrollHeight;
      } else if (!node.open) {
        openAttempts.delete(attempt.number);
      }
    });
    return node;
  }

  // --- actions ---------------------------------------------------------------------

  async function act(button) {
    const id = button.dataset.id;
    const action = button.dataset.action;
    let done;
    if (action === "cancel") {
      if (!window.confirm("Cancel job " + visible(id) + "?")) return;
      done = api("/api/job/cancel" + idQuery(id), null).then((r) =>
        r.result === "requested" ? "cancel of " + id + " requested: its worker is stopping it"
          : id + " canceled");
    } else if (["hold", "release", "requeue"].includes(action)) {
      done = api("/api/job/" + action + idQuery(id), null).then(() => id + " " +
        { hold: "held", release: "released", requeue: "moved back to pending" }[action]);
    } else if (action === "group-requeue" || action === "group-cancel") {
      const group = button.dataset.group;
      const verb = action === "group-requeue" ? "requeue" : "cancel";
      const what = verb === "requeue" ? "Requeue the dead and canceled jobs of group "
        : "Cancel the unfinished jobs of group ";
      if (!window.confirm(what + visible(group) + "?")) return;
      done = api("/api/group/" + verb + groupQuery(group), null).then((r) =>
        number(r.ids.length) + " jobs of group " + group + " " +
        (verb === "requeue" ? "moved back to pending" : "canceled") +
        (r.skipped ? " (" + number(r.skipped) + " skipped)" : ""));
    } else if (action === "queue-pause" || action === "queue-resume") {
      const queue = button.dataset.queue;
      const verb = action === "queue-pause" ? "pause" : "resume";
      done = api("/api/queue/" + verb + queueQuery(queue), null).then((r) =>
        r.note || "queue " + queue + " " + (r.paused ? "paused" : "resumed"));
    } else if (["schedule-pause", "schedule-resume", "schedule-run"].includes(action)) {
      const name = button.dataset.schedule;
      const verb = action.slice("schedule-".length);
      if (verb === "run" && !window.confirm("Run schedule " + visible(name) + " now?")) return;
      done = api("/api/schedule/" + verb + queueQuery(name), null).then((r) => r.note ||
        (verb === "run" ? "schedule " + name + " enqueued as " + r.job
          : "schedule " + name + " " + (r.paused ? "paused" : "resumed")));
    } else if (action === "retry") {
      done = api("/api/dlq/retry", { ids: [id] }).then(() => id + " moved back to pending");
    } else if (action === "retry-all") {
      const count = Number(button.dataset.count || 0);
      if (!window.confirm("Retry all " + number(count) + " dead jobs?")) return;
      done = api("/api/dlq/retry", { all: true }).then((r) =>
        number(r.ids.length) + " jobs moved back to pending");
    } else {
      return;
    }
    button.disabled = true;
    try {
      showBanner(await done, "info");
      setTimeout(() => hideBanner("info"), 6000);
    } catch (error) {
      showBanner(error.message);
    } finally {
      button.disabled = false;
    }
    refresh();
  }

  function start() {
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) act(button);
    });
    $("retry-all").dataset.action = "retry-all";
    $("filter-state").append(...STATES.map((state) => el("option", { value: state }, state)));
    $("filter-state").addEventListener("change", () => {
      window.location.hash = overviewHash($("filter-state").value, view.queue, 0, view.group);
    });
    $("filter-queue").addEventListener("change", () => {
      window.location.hash = overviewHash(view.state, $("filter-queue").value, 0, view.group);
    });
    $("filter-group").addEventListener("change", () => {
      window.location.hash = overviewHash(view.state, view.queue, 0, $("filter-group").value);
    });
    $("filters").addEventListener("submit", (event) => event.preventDefault());
    $("prev").addEventListener("click", () => {
      window.location.hash = overviewHash(view.state, view.queue, Math.max(0, view.offset - PAGE),
                                          view.group);
    });
    $("next").addEventListener("click", () => {
      window.location.hash = overviewHash(view.state, view.queue, view.offset + PAGE, view.group);
    });
    $("live").addEventListener("change", () => ($("live").checked ? refresh() : clearTimeout(timer)));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && $("live").checked) refresh();
    });
    if (tokenAuth) {
      $("logout").hidden = false;
      $("logout").addEventListener("click", () => {
        api("/logout", null).then(() => window.location.reload(),
                                  (error) => showBanner(error.message));
      });
    }
    window.addEventListener("hashchange", navigate);
    setInterval(tickAges, 1000);
    navigate();
  }

  start();
})();
