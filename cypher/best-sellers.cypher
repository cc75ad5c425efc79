// name: best-sellers
// description: The most bought items in a category and all its subcategories.
// param: category STRING = cat-footwear -- category id (see category-tree)
// param: k INT64 = 10 -- how many items to list
// portable: true
MATCH (top:Category {id: $category})<-[:SUBCATEGORY_OF*0..4]-(c:Category)<-[:IN_CATEGORY]-(i:Item)
MATCH (i)<-[p:PURCHASED]-(:User)
RETURN i.id AS item, i.name AS name, c.name AS category, count(p) AS buyers, sum(coalesce(p.count, 1)) AS units
ORDER BY buyers DESC, units DESC, item
LIMIT $k
