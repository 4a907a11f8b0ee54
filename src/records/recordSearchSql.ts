import { sql, type ExpressionBuilder, type Expression, type SqlBool } from "kysely";
import type { Schema } from "../store/schema.js";
import type { BlindIndex } from "./blindIndex.js";
import { birthdateQueryInputs, nameQueryInput, tokenQueryInput } from "./searchBlinded.js";
import { dateMatches, STRING_FIELDS } from "./searchIndex.js";
import type { DateValue, SearchParam, SearchQuery, TokenValue } from "./searchParameters.js";

type EB = ExpressionBuilder<Schema & { r: Schema["resources"] }, "r">;

const NEG = -8_640_000_000_000_000;
const POS = 8_640_000_000_000_000;

/**
 * Translates a parsed FHIR search into a WHERE clause over `resources r` and the blind index.
 * Semantics mirror `matches()` in searchIndex.ts (the in-memory reference).
 */
export function searchWhere(eb: EB, query: SearchQuery, blind: BlindIndex): Expression<SqlBool> {
  const clauses: Expression<SqlBool>[] = [eb("r.type", "=", query.resourceType), eb("r.deleted", "=", 0)];
  for (const param of query.params) clauses.push(paramClause(eb, param, blind, query.resourceType));
  return eb.and(clauses);
}

function paramClause(eb: EB, param: SearchParam, blind: BlindIndex, type: string): Expression<SqlBool> {
  // an equality lookup drives from the index (type, param, token) to the ids, never a scan of the type
  const withToken = (name: string, values: string[]) =>
    eb(
      "r.id",
      "in",
      eb
        .selectFrom("search_tokens as t")
        .select("t.id")
        .where("t.type", "=", type)
        .where("t.param", "=", name)
        .where("t.token", "in", values),
    );
  const tokens = (name: string) =>
    eb
      .selectFrom("search_tokens as t")
      .select(sql.lit(1).as("one"))
      .whereRef("t.type", "=", "r.type")
      .whereRef("t.id", "=", "r.id")
      .where("t.param", "=", name);
  if (param.kind === "missing") {
    if (param.name === "patient")
      return param.missing ? eb("r.patient_id", "is", null) : eb("r.patient_id", "is not", null);
    const exists = eb.exists(tokens(param.name));
    return param.missing ? eb.not(exists) : exists;
  }
  switch (param.kind) {
    case "reference": {
      const ids = param.values.map((v) => v.replace(/^(.*\/)?Patient\//, "").replace(/^.*\//, ""));
      return eb("r.patient_id", "in", ids);
    }
    case "token": {
      if (param.name === "_id") {
        const ids = param.values.flatMap((v) =>
          v.match === "code" || v.match === "no-system" || v.match === "system-code" ? [v.code] : [],
        );
        return ids.length ? eb("r.id", "in", ids) : sql<SqlBool>`1 = 0`;
      }
      if (param.name === "identifier" || param.name === "gender") {
        const domain = param.name;
        return withToken(
          domain,
          param.values.map((v) => blind.token(tokenQueryInput(domain, v))),
        );
      }
      return withToken(
        param.name,
        param.values.map((v) => tokenOf(v, blind)),
      );
    }
    case "string": {
      const inputs = param.values.flatMap((v) =>
        STRING_FIELDS[param.name].map((field) => blind.token(nameQueryInput(field, v))),
      );
      return withToken("name", inputs);
    }
    case "date": {
      if (param.name === "birthdate") {
        const inputs = param.values.flatMap((v) => birthdateQueryInputs(v, dateMatches));
        return inputs.length
          ? withToken(
              "birthdate",
              [...new Set(inputs)].map((i) => blind.token(i)),
            )
          : sql<SqlBool>`1 = 0`;
      }
      if (param.name === "_lastUpdated") {
        // a version's lastUpdated is an instant: a [t, t+1) range
        return eb.or(
          param.values.map((v) => dateClause(eb, v, sql`r.last_updated`, sql`r.last_updated + 1`)),
        );
      }
      return eb.exists(
        tokens("date").where((inner) =>
          inner.or(
            param.values.map((v) =>
              dateClause(
                inner as unknown as EB,
                v,
                sql`coalesce(t.start_ms, ${NEG})`,
                sql`coalesce(t.end_ms, ${POS})`,
              ),
            ),
          ),
        ),
      );
    }
  }
}

function tokenOf(value: TokenValue, blind: BlindIndex): string {
  switch (value.match) {
    case "code":
      return blind.token(`*|${value.code}`);
    case "system-code":
      return blind.token(`${value.system}|${value.code}`);
    case "no-system":
      return blind.token(`|${value.code}`);
    case "system":
      return blind.token(`${value.system}|*`);
  }
}

/** The R4 prefix rules on ranges, as in `dateMatches()`. */
function dateClause(
  _eb: EB,
  v: DateValue,
  rs: ReturnType<typeof sql>,
  re: ReturnType<typeof sql>,
): Expression<SqlBool> {
  const within = sql<SqlBool>`(${rs} >= ${v.start} and ${re} <= ${v.end})`;
  switch (v.prefix) {
    case "eq":
      return within;
    case "ne":
      return sql<SqlBool>`not ${within}`;
    case "gt":
      return sql<SqlBool>`${re} > ${v.end}`;
    case "lt":
      return sql<SqlBool>`${rs} < ${v.start}`;
    case "ge":
      return sql<SqlBool>`(${re} > ${v.end} or ${within})`;
    case "le":
      return sql<SqlBool>`(${rs} < ${v.start} or ${within})`;
    case "sa":
      return sql<SqlBool>`${rs} >= ${v.end}`;
    case "eb":
      return sql<SqlBool>`${re} <= ${v.start}`;
    case "ap":
      return sql<SqlBool>`(${rs} < ${v.end} and ${re} > ${v.start})`;
  }
}
