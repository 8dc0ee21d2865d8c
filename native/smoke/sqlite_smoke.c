/* SQLite from //native/sqlite: the pinned version, R*Tree (GeoPackage spatial indexes) and column
 * metadata (GDAL) compiled in. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  sqlite3 *db;
  char *err = NULL;
  if (strcmp(sqlite3_libversion(), SQLITE_VERSION) != 0) {
    fprintf(stderr, "sqlite: header %s, library %s\n", SQLITE_VERSION, sqlite3_libversion());
    return 1;
  }
  if (!sqlite3_compileoption_used("ENABLE_RTREE") || !sqlite3_compileoption_used("ENABLE_COLUMN_METADATA")) {
    fprintf(stderr, "sqlite: built without RTREE or COLUMN_METADATA\n");
    return 1;
  }
  if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
      sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING rtree(id, minx, maxx, miny, maxy);"
                       "INSERT INTO t VALUES (1, 0, 1, 0, 1);", NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s\n", err ? err : sqlite3_errmsg(db));
    return 1;
  }
  sqlite3_close(db);
  printf("sqlite %s ok\n", sqlite3_libversion());
  return 0;
}
