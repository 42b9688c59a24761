// The live page of sdnapp: GET /v1/topology every second, drawn with d3 (SVG).
//
// Every name shown comes from tenants or switches: it is only ever set as text (d3's .text(), which
// sets textContent), never parsed as HTML. The page holds no data of its own; the calls it makes carry
// the caller's credentials: with auth.strategy noauth it says it is an admin, as any local caller may;
// otherwise it asks for an administrator's token once and keeps it for the tab (sessionStorage).
"use strict";

(() => {
  const POLL_MS = 1000;
  const HEIGHT = 600;
  const svg = d3.select("#fabric");
  const edgeLayer = svg.append("g").attr("class", "edges");
  const nodeLayer = svg.append("g").attr("class", "nodes");
  const positions = new Map(); // node id -> {x, y}, kept across polls so the picture does not jump
  const linksSeen = new Map(); // link key -> the link as last seen: one that vanishes is drawn as down
  let layoutKey = "";

  const linkKey = (l) => `${l.src.datapath_id}/${l.src.port_no}|${l.dst.datapath_id}/${l.dst.port_no}`;
  const shortDpid = (dpid) => dpid.replace(/^0+(?=.)/, "");

  function headers() {
    const h = { Accept: "application/json", "X-Project-Id": "sdnapp-ui", "X-Roles": "admin" };
    const token = sessionStorage.getItem("sdnapp-token");
    if (token) h["X-Auth-Token"] = token;
    return h;
  }

  function showError(text) {
    d3.select("#error").attr("hidden", null).text(text);
  }

  async function poll() {
    try {
      const r = await fetch("/v1/topology", { headers: headers(), cache: "no-store" });
      const body = await r.json();
      if (r.status === 401) {
        d3.select("#login").attr("hidden", null);
        showError("not authorised: " + (body.error ? body.error.message : r.status));
      } else if (!r.ok) {
        showError(body.error ? `${body.error.type}: ${body.error.message}` : `HTTP ${r.status}`);
      } else {
        d3.select("#error").attr("hidden", true);
        d3.select("#login").attr("hidden", true);
        render(body);
      }
    } catch (e) {
      showError("cannot reach sdnapp: " + e.message);
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  d3.select("#login").on("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("sdnapp-token", d3.select("#token").property("value"));
  });

  function render(data) {
    const switches = new Map(data.switches.map((s) => [s.datapath_id, s]));
    // Links: as the server knows them, and those it stopped reporting (lost: shown as down).
    const now = new Set();
    for (const l of data.links) {
      const key = linkKey(l);
      now.add(key);
      linksSeen.set(key, { ...l, key, lost: false });
    }
    for (const [key, l] of linksSeen) {
      if (!switches.has(l.src.datapath_id) || !switches.has(l.dst.datapath_id)) linksSeen.delete(key);
      else if (!now.has(key)) linksSeen.set(key, { ...l, state: "down", lost: true });
    }
    const links = [...linksSeen.values()];
    const ports = [];
    for (const n of data.networks) {
      for (const p of n.ports) {
        if (p.binding && switches.has(p.binding.datapath_id)) ports.push({ ...p, network: n });
      }
    }
    layout(switches, links, ports);
    draw(switches, links, ports);
    panel(data, links);
    const count = (st) => ports.filter((p) => p.status === st).length;
    d3.select("#summary").text(
      `${data.switches.filter((s) => s.connected).length}/${data.switches.length} switches connected · ` +
        `${links.filter((l) => l.state === "up").length}/${links.length} links up · ` +
        `ports ${count("ACTIVE")} ACTIVE, ${count("DOWN")} DOWN, ${count("ERROR")} ERROR`,
    );
    d3.select("#updated").text("updated " + new Date().toLocaleTimeString());
  }

  function layout(switches, links, ports) {
    const key = [...switches.keys()].join(",") + "#" + links.map((l) => l.key).join(",") + "#" +
      ports.map((p) => p.id + "@" + p.binding.datapath_id).join(",");
    if (key === layoutKey) return;
    layoutKey = key;
    const width = svg.node().clientWidth || 800;
    const nodes = [];
    for (const dpid of switches.keys()) nodes.push({ id: "sw:" + dpid, kind: "switch" });
    for (const p of ports) nodes.push({ id: "port:" + p.id, kind: "port", parent: "sw:" + p.binding.datapath_id });
    nodes.forEach((n, i) => {
      const old = positions.get(n.id) || positions.get(n.parent);
      const angle = (2 * Math.PI * i) / nodes.length;
      n.x = old ? old.x + (n.kind === "port" ? 30 * Math.cos(angle) : 0) : width / 2 + 200 * Math.cos(angle);
      n.y = old ? old.y + (n.kind === "port" ? 30 * Math.sin(angle) : 0) : HEIGHT / 2 + 200 * Math.sin(angle);
    });
    const edges = links.map((l) => ({ source: "sw:" + l.src.datapath_id, target: "sw:" + l.dst.datapath_id,
      kind: "link" }));
    for (const p of ports) edges.push({ source: "port:" + p.id, target: "sw:" + p.binding.datapath_id, kind: "stub" });
    const sim = d3.forceSimulation(nodes)
      .force("link", d3.forceLink(edges).id((d) => d.id)
        .distance((e) => (e.kind === "stub" ? 48 : 170)).strength((e) => (e.kind === "stub" ? 1 : 0.6)))
      .force("charge", d3.forceManyBody().strength((d) => (d.kind === "switch" ? -1200 : -90)))
      .force("center", d3.forceCenter(width / 2, HEIGHT / 2))
      .force("collide", d3.forceCollide((d) => (d.kind === "switch" ? 55 : 14)))
      .stop();
    for (let i = 0; i < 400; i++) sim.tick();
    for (const n of nodes) {
      positions.set(n.id, { x: Math.max(50, Math.min(width - 50, n.x)), y: Math.max(30, Math.min(HEIGHT - 30, n.y)) });
    }
  }

  function draw(switches, links, ports) {
    const at = (id) => positions.get(id) || { x: 0, y: 0 };
    edgeLayer.selectAll("line.link")
      .data(links, (l) => l.key)
      .join("line")
      .attr("class", (l) => `link state-${l.state} source-${l.source}`)
      .attr("data-link", (l) => l.key)
      .attr("data-state", (l) => l.state)
      .attr("x1", (l) => at("sw:" + l.src.datapath_id).x).attr("y1", (l) => at("sw:" + l.src.datapath_id).y)
      .attr("x2", (l) => at("sw:" + l.dst.datapath_id).x).attr("y2", (l) => at("sw:" + l.dst.datapath_id).y)
      .selectAll("title").data((l) => [l]).join("title")
      .text((l) => `${l.src.datapath_id} port ${l.src.port_no} ↔ ${l.dst.datapath_id} port ${l.dst.port_no}: ` +
        `${l.state}${l.lost ? " (no longer seen)" : ""}, ${l.source}`);
    edgeLayer.selectAll("line.stub")
      .data(ports, (p) => p.id)
      .join("line")
      .attr("class", "stub")
      .attr("x1", (p) => at("port:" + p.id).x).attr("y1", (p) => at("port:" + p.id).y)
      .attr("x2", (p) => at("sw:" + p.binding.datapath_id).x).attr("y2", (p) => at("sw:" + p.binding.datapath_id).y);

    const sw = nodeLayer.selectAll("g.switch")
      .data([...switches.values()], (s) => s.datapath_id)
      .join((enter) => {
        const g = enter.append("g");
        g.append("rect").attr("x", -44).attr("y", -17).attr("width", 88).attr("height", 34).attr("rx", 6);
        g.append("text");
        g.append("title");
        return g;
      })
      .attr("class", (s) => {
        const unsupported = s.capabilities && !s.capabilities.supported;
        return "switch" + (s.connected ? "" : " disconnected") + (unsupported ? " unsupported" : "");
      })
      .attr("data-dpid", (s) => s.datapath_id)
      .attr("transform", (s) => `translate(${at("sw:" + s.datapath_id).x},${at("sw:" + s.datapath_id).y})`);
    sw.select("text").text((s) => "dp " + shortDpid(s.datapath_id));
    sw.select("title").text((s) => {
      const caps = s.capabilities;
      const lacks = caps && caps.missing.length ? "; lacks " + caps.missing.join(", ") : "";
      return `switch ${s.datapath_id}: ${s.connected ? "connected" : "not connected"}, ${s.ports.length} ports${lacks}`;
    });

    const port = nodeLayer.selectAll("g.port")
      .data(ports, (p) => p.id)
      .join((enter) => {
        const g = enter.append("g").attr("class", "port");
        g.append("circle").attr("r", 8);
        g.append("text").attr("class", "port-label").attr("x", 11).attr("y", 4);
        g.append("title");
        return g;
      })
      .attr("transform", (p) => `translate(${at("port:" + p.id).x},${at("port:" + p.id).y})`);
    port.select("circle")
      .attr("class", (p) => `port status-${p.status}`)
      .attr("data-port-id", (p) => p.id)
      .attr("data-status", (p) => p.status);
    port.select("text").text((p) => p.name || p.mac_address || p.id.slice(0, 8));
    port.select("title").text((p) => `${p.name} (${p.network.name}): ${p.status}, ${p.mac_address || "no VNIC"} ` +
      `on ${p.binding.datapath_id}/${p.binding.port_name || p.binding.port_no}`);
  }

  function panel(data, links) {
    const problems = [];
    for (const s of data.switches) {
      if (s.capabilities && !s.capabilities.supported) {
        problems.push(`switch ${s.datapath_id} lacks ${s.capabilities.missing.join(", ")}: not programmed`);
      } else if (!s.connected) {
        problems.push(`switch ${s.datapath_id} is not connected`);
      }
    }
    for (const l of links) {
      if (l.state !== "up") {
        problems.push(`link ${l.src.datapath_id}/${l.src.port_no} ↔ ${l.dst.datapath_id}/${l.dst.port_no} is ` +
          (l.state === "problem" ? "contradicted by discovery" : "down"));
      }
    }
    const items = problems.length ? problems : ["none"];
    d3.select("#problems ul").selectAll("li").data(items).join("li")
      .attr("class", problems.length ? null : "none").text((d) => d);

    const nets = d3.select("#networks").selectAll("div.network")
      .data(data.networks, (n) => n.id)
      .join((enter) => {
        const div = enter.append("div").attr("class", "network");
        const h = div.append("h3");
        h.append("span").attr("class", "name");
        h.append("span").attr("class", "tenant");
        h.append("span").attr("class", "segment");
        const head = div.append("table").append("thead").append("tr");
        for (const col of ["port", "status", "MAC", "address", "switch port"]) head.append("th").text(col);
        div.select("table").append("tbody");
        return div;
      })
      .attr("data-network-id", (n) => n.id);
    nets.select("span.name").text((n) => n.name || n.id.slice(0, 8));
    nets.select("span.tenant").text((n) => ` · ${n.tenant_id}`);
    nets.select("span.segment").text((n) => (n.segment ? ` · ${n.segment.type} ${n.segment.id}` : ""));
    nets.select("tbody").selectAll("tr")
      .data((n) => n.ports, (p) => p.id)
      .join((enter) => {
        const tr = enter.append("tr");
        for (let i = 0; i < 5; i++) tr.append("td");
        tr.select("td:nth-child(2)").append("span").attr("class", "badge");
        return tr;
      })
      .attr("data-port-id", (p) => p.id)
      .attr("data-status", (p) => p.status)
      .each(function (p) {
        const cells = d3.select(this).selectAll("td").nodes();
        d3.select(cells[0]).text(p.name || p.id.slice(0, 8));
        d3.select(cells[1]).select("span").attr("class", `badge status-${p.status}`).text(p.status);
        d3.select(cells[2]).text(p.mac_address || "");
        d3.select(cells[3]).text(p.ip_address || "");
        d3.select(cells[4]).text(p.binding ? `${p.binding.datapath_id}/${p.binding.port_name || p.binding.port_no}` : "");
      });
  }

  poll();
})();
