// name: duplicate-entity-candidates
// description: Entities that are probably one thing twice: organisations whose name matches a brand's name or alias, and organisations or people sharing a name (case and spacing ignored).
// portable: true
MATCH (o:Organization)
MATCH (b:Brand)
WHERE toLower(trim(o.name)) = toLower(trim(b.name))
   OR any(alias IN coalesce(b.aliases, []) WHERE toLower(trim(alias)) = toLower(trim(o.name)))
RETURN 'Organization' AS label, o.id AS candidate, o.name AS name, 'Brand' AS same_as_label, b.id AS same_as, b.name AS same_as_name
UNION ALL
MATCH (a:Organization)
MATCH (o:Organization)
WHERE a.id < o.id AND toLower(trim(a.name)) = toLower(trim(o.name))
RETURN 'Organization' AS label, o.id AS candidate, o.name AS name, 'Organization' AS same_as_label, a.id AS same_as, a.name AS same_as_name
UNION ALL
MATCH (a:Person)
MATCH (o:Person)
WHERE a.id < o.id AND toLower(trim(a.name)) = toLower(trim(o.name))
RETURN 'Person' AS label, o.id AS candidate, o.name AS name, 'Person' AS same_as_label, a.id AS same_as, a.name AS same_as_name
