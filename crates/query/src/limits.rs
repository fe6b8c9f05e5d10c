//! Bounds on SQL from outside, checked before a statement is planned: its length, sqlparser's
//! own recursion limit, and a walk over the parsed statement that stops at the first node past
//! a nesting depth or a node count, so neither the walk nor anything after it (planning,
//! optimising, executing, dropping the tree) recurses deeper than the limit. The numbers are
//! chosen well below what the SQL threads' stack holds (see `tests/limits.rs`).

use std::ops::ControlFlow;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::{DFParserBuilder, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{
    Expr, Query, Select, SetExpr, TableFactor, Visit, Visitor, visit_relations,
};
use datafusion::sql::sqlparser::parser::ParserError;

use crate::QueryError;

/// How much SQL a statement may be, and how much a query may use. `Limits::default()` is what
/// the server and the CLI use unless told otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest statement, in bytes of text.
    pub max_sql_bytes: usize,
    /// sqlparser's recursion limit (nested parentheses, subqueries, unary operators).
    pub parser_recursion: usize,
    /// The deepest nesting of expressions, subqueries, table factors, joins in one FROM, set
    /// operations (`UNION`) in one chain and CTEs in one `WITH` — what planning recurses over.
    pub max_depth: usize,
    /// The most nodes (expressions, queries, selects, table factors) in one statement.
    pub max_nodes: usize,
    /// The deepest nesting of queries in queries (subqueries, derived tables, CTE bodies; the
    /// statement itself is 1): DataFusion's optimiser takes time exponential in it.
    pub max_query_depth: usize,
    /// The most operators of the plan the statement becomes, subqueries included: a CTE read
    /// twice by the next one, and so on, doubles the plan at every step.
    pub max_plan_nodes: usize,
    /// The memory all running queries together may hold for joins, sorts and aggregates; a
    /// query past it fails with a message saying so.
    pub memory_bytes: usize,
    /// The most bytes one expression that makes larger values than it is given (`repeat`,
    /// `lpad`, `range`, `replace`, `concat`, `||`, …) may make in one step (a batch of rows):
    /// the pool does not see such values, so each is bounded before it is made.
    pub max_value_bytes: usize,
    /// The stack of every thread that plans or runs a query.
    pub stack_bytes: usize,
    /// Threads running queries.
    pub threads: usize,
}

/// 64 KiB of text, depth 128, 20,000 nodes, queries 8 deep, 10,000 plan operators, 1 GiB of
/// memory, 64 MiB of values made by one expression at a time, 64 MiB stacks.
impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_sql_bytes: 64 << 10,
            parser_recursion: 50,
            max_depth: 128,
            max_nodes: 20_000,
            max_query_depth: 8,
            max_plan_nodes: 10_000,
            memory_bytes: 1 << 30,
            max_value_bytes: 64 << 20,
            stack_bytes: 64 << 20,
            threads: std::thread::available_parallelism()
                .map(|n| n.get().min(8))
                .unwrap_or(2),
        }
    }
}

impl Limits {
    /// Refuses a statement longer than [`Limits::max_sql_bytes`], before anything parses it.
    pub fn check_text(&self, sql: &str) -> Result<(), QueryError> {
        if sql.len() > self.max_sql_bytes {
            return Err(QueryError::Limit(format!(
                "the statement is {} bytes; at most {} are accepted",
                sql.len(),
                self.max_sql_bytes
            )));
        }
        Ok(())
    }

    /// Parses `sql` as one statement and checks it against every bound that needs no plan.
    /// Recurses as deep as sqlparser's limit, and dropping a refused statement as deep as its
    /// text allows: call it on a thread of a [`crate::SqlRunner`] for statements from outside.
    pub fn parse(&self, sql: &str) -> Result<DfStatement, QueryError> {
        self.check_text(sql)?;
        let parsed = DFParserBuilder::new(sql)
            .with_recursion_limit(self.parser_recursion.max(1))
            .build()
            .and_then(|mut p| p.parse_statements());
        let mut statements = parsed.map_err(|e| match e.find_root() {
            DataFusionError::SQL(p, _) if matches!(**p, ParserError::RecursionLimitExceeded) => {
                QueryError::Limit(format!(
                    "the statement nests deeper than {} levels of parentheses, subqueries or \
                     operators",
                    self.parser_recursion
                ))
            }
            _ => QueryError::Sql(e.to_string()),
        })?;
        if statements.len() != 1 {
            return Err(QueryError::Sql(
                "send exactly one statement (no `;` between two)".into(),
            ));
        }
        let statement = statements.pop_front().expect("one statement");
        self.check_statement(&statement)?;
        Ok(statement)
    }

    /// Walks a parsed statement and refuses it when it nests deeper than
    /// [`Limits::max_depth`] or has more than [`Limits::max_nodes`] nodes. Statements other than
    /// queries and `EXPLAIN` of one (`COPY`, `CREATE EXTERNAL TABLE`, `RESET`) are refused here
    /// too; the rest of what is not a read is refused after planning.
    pub fn check_statement(&self, statement: &DfStatement) -> Result<(), QueryError> {
        let mut s = statement;
        let mut explains = 0;
        loop {
            match s {
                DfStatement::Statement(inner) => {
                    let mut walk = Walk {
                        limits: self,
                        depth: explains,
                        nodes: explains,
                        queries: 0,
                    };
                    if let ControlFlow::Break(e) = inner.visit(&mut walk) {
                        return Err(QueryError::Limit(e.message(self)));
                    }
                    // Within the depth limit, so this second walk recurses no deeper.
                    let mut ctes = CteExpansion {
                        limit: self.max_plan_nodes as u64,
                    };
                    return match inner.visit(&mut ctes) {
                        ControlFlow::Continue(()) => Ok(()),
                        ControlFlow::Break(()) => Err(QueryError::Limit(self.plan_message())),
                    };
                }
                DfStatement::Explain(e) if explains < 2 => {
                    explains += 1;
                    s = &e.statement;
                }
                _ => {
                    return Err(QueryError::Sql(
                        "only queries are allowed (SELECT, WITH, VALUES, SHOW, EXPLAIN)".into(),
                    ));
                }
            }
        }
    }
}

impl Limits {
    /// Refuses a plan of more than [`Limits::max_plan_nodes`] operators (counting stops there,
    /// so an exponential plan costs no more than the limit to find).
    pub fn check_plan(&self, plan: &LogicalPlan) -> Result<(), QueryError> {
        let mut nodes = 0usize;
        plan.apply_with_subqueries(|_| {
            nodes += 1;
            Ok(if nodes > self.max_plan_nodes {
                TreeNodeRecursion::Stop
            } else {
                TreeNodeRecursion::Continue
            })
        })
        .map_err(|e| QueryError::Sql(e.to_string()))?;
        if nodes > self.max_plan_nodes {
            return Err(QueryError::Limit(self.plan_message()));
        }
        Ok(())
    }

    fn plan_message(&self) -> String {
        format!(
            "the statement plans to more than {} operators (a CTE read several times by the \
             next one multiplies them); simplify it",
            self.max_plan_nodes
        )
    }
}

/// Estimates, before planning, how large CTEs make a plan: each reference to a CTE copies its
/// plan, so a chain of CTEs each reading the one before twice doubles it at every step — and
/// planning such a statement takes as long as the plan is large. Counts one per CTE plus what
/// its references copy (any relation named like an earlier CTE of the same `WITH`), and stops
/// past the limit.
struct CteExpansion {
    limit: u64,
}

impl Visitor for CteExpansion {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        let Some(with) = &q.with else {
            return ControlFlow::Continue(());
        };
        let mut sizes: Vec<(String, u64)> = Vec::new();
        let size_of = |sizes: &[(String, u64)], node: &Query| {
            let mut n = 1u64;
            let _ = visit_relations(node, |r| {
                // Compared without case or quotes: counting too much is safe, too little not.
                let name =
                    r.0.last()
                        .and_then(|p| p.as_ident())
                        .map(|i| i.value.to_lowercase());
                if let Some((_, s)) = sizes.iter().rev().find(|(c, _)| Some(c) == name.as_ref()) {
                    n = n.saturating_add(*s);
                }
                ControlFlow::<()>::Continue(())
            });
            n
        };
        for cte in &with.cte_tables {
            let n = size_of(&sizes, &cte.query);
            if n > self.limit {
                return ControlFlow::Break(());
            }
            sizes.push((cte.alias.name.value.to_lowercase(), n));
        }
        if size_of(&sizes, q) > self.limit {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

/// Why a walk stopped.
#[derive(Clone, Copy, Debug)]
enum Exceeded {
    Depth,
    Nodes,
    Queries,
}

impl Exceeded {
    fn message(self, l: &Limits) -> String {
        match self {
            Exceeded::Depth => format!(
                "the statement nests deeper than {} levels (expressions, subqueries, joins or \
                 UNIONs); simplify it, or use IN (...) instead of a long chain of OR",
                l.max_depth
            ),
            Exceeded::Nodes => format!(
                "the statement has more than {} expressions and tables",
                l.max_nodes
            ),
            Exceeded::Queries => format!(
                "the statement nests queries deeper than {} levels (subqueries, derived tables)",
                l.max_query_depth
            ),
        }
    }
}

struct Walk<'a> {
    limits: &'a Limits,
    depth: usize,
    nodes: usize,
    queries: usize,
}

impl Walk<'_> {
    /// Enters a node `extra` levels deep (a chain the node holds flat: joins, UNIONs).
    fn enter(&mut self, extra: usize) -> ControlFlow<Exceeded> {
        self.depth += 1;
        self.nodes += 1;
        if self.depth + extra > self.limits.max_depth {
            return ControlFlow::Break(Exceeded::Depth);
        }
        if self.nodes > self.limits.max_nodes {
            return ControlFlow::Break(Exceeded::Nodes);
        }
        ControlFlow::Continue(())
    }

    fn leave(&mut self) -> ControlFlow<Exceeded> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

/// How deep a chain of set operations nests, counted without recursion (the visitor would
/// recurse down the chain before it reaches a node it counts).
fn set_depth(body: &SetExpr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(body, 0usize)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        if let SetExpr::SetOperation { left, right, .. } = e {
            stack.push((left, d + 1));
            stack.push((right, d + 1));
        }
    }
    deepest
}

impl Visitor for Walk<'_> {
    type Break = Exceeded;

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<Exceeded> {
        // A CTE may read the one before it: a chain of them plans as deep as it is long.
        let ctes = q.with.as_ref().map_or(0, |w| w.cte_tables.len());
        self.queries += 1;
        if self.queries > self.limits.max_query_depth {
            return ControlFlow::Break(Exceeded::Queries);
        }
        self.enter(set_depth(&q.body) + ctes)
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<Exceeded> {
        self.queries -= 1;
        self.leave()
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<Exceeded> {
        // Each table in FROM and each join is one more level of the plan.
        let tables: usize = s.from.iter().map(|t| 1 + t.joins.len()).sum();
        self.enter(tables)
    }

    fn post_visit_select(&mut self, _: &Select) -> ControlFlow<Exceeded> {
        self.leave()
    }

    fn pre_visit_table_factor(&mut self, _: &TableFactor) -> ControlFlow<Exceeded> {
        self.enter(0)
    }

    fn post_visit_table_factor(&mut self, _: &TableFactor) -> ControlFlow<Exceeded> {
        self.leave()
    }

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<Exceeded> {
        self.enter(0)
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<Exceeded> {
        self.leave()
    }
}
