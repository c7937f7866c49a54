// Test metadata the reporters read: the JUnit classname and the Allure labels of a generated test.
import "vitest";

declare module "vitest" {
  interface TaskMeta {
    /** Jenkins groups by this: `service.database.table` (or `service.database` for database-wide tests). */
    classname?: string;
    service?: string;
  }
}

export {};
