import { ecod, type OutlierReport } from '../gate/outliers';
import { ISO_FIELDS, type Profile } from './profile';

// The ISO components restate measures the profile already holds (pose, sharpness, exposure…): scored too, they would count twice.
const NOT_SCORED = new Set(ISO_FIELDS);

export interface ProfileOutliers extends OutlierReport {
  /** The numeric and yes/no columns scored (yes/no as 1/0). */
  columns: string[];
}

/** The profile columns that hold numbers or booleans in at least one profile, in first-seen order, but the ISO/IEC 29794-5 ones. */
export function numericColumns(profiles: Profile[]): string[] {
  const columns = new Set<string>();
  for (const profile of profiles) {
    for (const [column, value] of Object.entries(profile)) {
      if ((typeof value === 'number' || typeof value === 'boolean') && !NOT_SCORED.has(column)) columns.add(column);
    }
  }
  return [...columns];
}

/** ECOD over the profiles' numeric columns; a face field left null by a face-free image counts as missing. */
export function profileOutliers(profiles: Profile[], contamination: number): ProfileOutliers {
  const columns = numericColumns(profiles);
  const rows = profiles.map((profile) =>
    columns.map((column) => {
      const value = profile[column];
      if (typeof value === 'boolean') return value ? 1 : 0;
      return typeof value === 'number' ? value : null;
    }),
  );
  return { ...ecod(rows, columns, contamination), columns };
}
