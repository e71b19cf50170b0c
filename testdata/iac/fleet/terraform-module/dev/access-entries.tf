# EKS access entries of cluster dev, written by aws-auth-migrate from
#   testdata/examples/fleet/dev.yaml (offline plan).
# 2 access entries, 1 policy association; 0 mappings stay in aws-auth.
# Review it like any change of who may use the cluster. The tool's created-by tag is never written
#   here.
#
# Offline plan, so no imports: EKS makes node, Fargate and cluster-creator entries itself at the
#   switch to API_AND_CONFIG_MAP, and creating them again fails with ResourceInUseException. Switch
#   the mode first, then write this again from the live cluster:
#   aws-auth-migrate migrate --cluster dev --to dual   # or the authentication mode in your IaC
#   aws-auth-migrate plan --cluster dev -o terraform-module
#
# Then, once applied:
#   aws-auth-migrate verify --cluster dev            # parity, recorded for the api gate
#   aws-auth-migrate migrate --cluster dev --to api --confirm dev
# and then say API in the IaC's authentication mode too: EKS refuses any way back, so an apply that
#   still says API_AND_CONFIG_MAP fails.
#
# For the terraform-aws-eks module block `module "eks"`: set access_entries =
#   local.eks_access_entries and enable_cluster_creator_admin_permissions = false (an entry the
#   cluster creator has is declared here like any other). Needs Terraform 1.5 or later (import
#   blocks).

locals {
  eks_access_entries = {
    # mapRoles[0] in aws-auth
    eks_dev_nodes = {
      principal_arn = "arn:aws:iam::111122223333:role/eks-dev-nodes"
      type          = "EC2_LINUX"
    }

    # mapRoles[1] in aws-auth
    developers = {
      principal_arn = "arn:aws:iam::111122223333:role/developers"
      type          = "STANDARD"
      user_name     = "dev:{{SessionName}}"

      policy_associations = {
        cluster_admin = {
          policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

          access_scope = {
            type = "cluster"
          }
        }
      }
    }
  }
}
