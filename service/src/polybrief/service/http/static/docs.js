// Renders the OpenAPI document (operations, then every schema as a field table).
"use strict";

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}

function typeOf(schema) {
  if (!schema) return "";
  if (schema.allOf) return typeOf(schema.allOf[0]);
  const ref = refName(schema);
  if (ref) return ref;
  if (schema.type === "array") return typeOf(schema.items) + "[]";
  if (schema.type === "object" && schema.additionalProperties) return "map<string, " + typeOf(schema.additionalProperties) + ">";
  if (schema.enum) return "enum";
  return schema.type + (schema.format ? ` (${schema.format})` : "");
}

function typeCell(schema) {
  const cell = el("td");
  const inner = schema.allOf ? schema.allOf[0] : schema.type === "array" ? schema.items : schema;
  const ref = refName(inner);
  if (ref) {
    const link = el("a", typeOf(schema), { href: "#" + ref });
    cell.append(link);
  } else {
    cell.append(el("code", typeOf(schema)));
  }
  return cell;
}

function schemaTable(name, schema) {
  const section = el("section", null, { id: name, "aria-labelledby": name + "-title" });
  section.append(el("h3", name, { id: name + "-title" }));
  if (schema.description) section.append(el("p", schema.description));
  if (schema.enum) {
    section.append(el("p", "Values: " + schema.enum.join(", ")));
    return section;
  }
  const table = el("table");
  const head = el("tr");
  for (const h of ["Field", "Type", "Meaning"]) head.append(el("th", h, { scope: "col" }));
  const thead = el("thead");
  thead.append(head);
  table.append(thead);
  const body = el("tbody");
  for (const [field, prop] of Object.entries(schema.properties || {})) {
    const row = el("tr");
    const name = el("td");
    name.append(el("code", field));
    row.append(name);
    row.append(typeCell(prop));
    row.append(el("td", prop.description || ""));
    body.append(row);
  }
  table.append(body);
  section.append(table);
  return section;
}

async function main() {
  const doc = await (await fetch("/v1/openapi.json")).json();
  document.getElementById("intro").textContent = doc.info.description;
  const toc = document.getElementById("toc");
  const ops = document.getElementById("operations");
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [verb, op] of Object.entries(methods)) {
      const id = "op-" + op.operationId;
      const item = el("li");
      item.append(el("a", `${verb.toUpperCase()} ${path}`, { href: "#" + id }));
      toc.append(item);
      const section = el("section", null, { id, "aria-labelledby": id + "-title" });
      section.append(el("h2", `${verb.toUpperCase()} ${path}`, { id: id + "-title" }));
      section.append(el("p", op.description));
      if (op.requestBody) {
        const schema = op.requestBody.content["application/json"].schema;
        const p = el("p", "Request body: ");
        p.append(el("a", refName(schema), { href: "#" + refName(schema) }));
        section.append(p);
      }
      for (const param of op.parameters || []) section.append(el("p", `Query parameter ${param.name}: ${typeOf(param.schema)}`));
      const ok = op.responses["200"].content;
      for (const [type, media] of Object.entries(ok)) {
        const schema = media["x-event-schema"] || media.schema;
        const p = el("p", `Response (${type}): `);
        p.append(el("a", refName(schema), { href: "#" + refName(schema) }));
        if (media.description) p.append(" — " + media.description);
        section.append(p);
      }
      ops.append(section);
    }
  }
  const schemas = document.getElementById("schemas");
  for (const [name, schema] of Object.entries(doc.components.schemas)) schemas.append(schemaTable(name, schema));
}

document.addEventListener("DOMContentLoaded", main);
